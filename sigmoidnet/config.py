"""The config schema and its loader: every validation of user configuration happens here.

`load_config(path, overrides)` reads YAML strictly (no duplicate keys, no object-building
tags, YAML 1.2 numbers and booleans so `1e-3` is a float and `no` stays a string), applies
`--set KEY=VALUE` overrides, validates with pydantic in strict mode and returns a frozen
`Config`. Errors are `ConfigError`s whose message names the file, the key path, what was
expected and what was got, and — for unknown keys — the nearest valid key.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sigmoidnet.errors import ConfigError

DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")

PosInt = Annotated[int, Field(ge=1)]
PosFloat = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, validate_default=True)


class DataConfig(_Strict):
    """Where the rows come from. `random` is the tutorial's data."""

    source: Literal["random", "csv", "parquet", "npz"] = "random"
    # random only (the tutorial: torch.rand features, torch.randint(0, 2) targets)
    n_samples: PosInt = 32
    n_features: PosInt = 64
    n_labels: PosInt = 2
    # file sources
    path: str | None = None
    labels: list[str] | None = None
    features: list[str] | None = None
    val_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] | None = Field(
        default=None,
        description="Share of rows held out for validation (seeded; stratified for one label)."
        " Default: 0.2 for file sources, 0.0 for random data (the tutorial trains on all rows).",
    )
    val_path: str | None = None
    normalize: Literal["standard", "none"] = "standard"

    @field_validator("labels", "features", mode="before")
    @classmethod
    def _one_name_is_a_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("labels", "features")
    @classmethod
    def _unique_names(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("expected at least one column name, got an empty list")
            dup = sorted({n for n in v if v.count(n) > 1})
            if dup:
                raise ValueError(f"column names must be unique, got {dup[0]!r} twice")
        return v

    @model_validator(mode="after")
    def _check_source(self) -> DataConfig:
        random_only = {"n_samples", "n_features", "n_labels"}
        file_only = {"path", "labels", "features", "val_path"}
        given = {k for k in self.model_fields_set if getattr(self, k) is not None}
        if self.source == "random":
            bad = sorted(given & file_only)
            if bad:
                raise ValueError(f"'{bad[0]}' is for file sources, but source is 'random'")
            frac = 0.0 if self.val_fraction is None else self.val_fraction
        else:
            bad = sorted(given & random_only)
            if bad:
                raise ValueError(f"'{bad[0]}' is only for source 'random', got '{self.source}'")
            if self.path is None:
                raise ValueError(f"'path' is required for source '{self.source}'")
            if self.labels is None and self.source != "npz":
                raise ValueError(f"'labels' is required for source '{self.source}'")
            if self.val_path is not None and "val_fraction" in given:
                raise ValueError("give either 'val_path' or 'val_fraction', not both")
            frac = 0.2 if self.val_fraction is None else self.val_fraction
            if self.val_path is not None:
                frac = 0.0
        object.__setattr__(self, "val_fraction", frac)
        return self

    @property
    def holdout(self) -> float:
        return float(self.val_fraction or 0.0)


class ModelConfig(_Strict):
    """The MLP: input → hidden_sizes (any depth) → output logits; Sigmoid at inference."""

    input_size: PosInt | None = None
    hidden_sizes: list[PosInt] = Field(default_factory=lambda: [128])
    output_size: PosInt | None = None
    activation: Literal["relu", "gelu", "tanh", "sigmoid", "leaky_relu", "silu", "elu"] = "relu"
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0


class TrainConfig(_Strict):
    epochs: PosInt = 10
    batch_size: PosInt = 32
    lr: PosFloat = 0.01
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.0
    pos_weight: Literal["auto"] | list[PosFloat] | None = None
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"

    @model_validator(mode="after")
    def _momentum_for_sgd(self) -> TrainConfig:
        if self.momentum and self.optimizer != "sgd" and "momentum" in self.model_fields_set:
            raise ValueError(f"'momentum' applies to optimizer 'sgd' only, got '{self.optimizer}'")
        return self


class Config(_Strict):
    """A whole, resolved sigmoidnet config."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")] = "sigmoidnet"
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    device: str = "auto"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    out_dir: str = "runs"

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not DEVICE_RE.match(v):
            raise ValueError(f"expected auto, cpu, cuda, cuda:N or mps, got {v!r}")
        return v

    @model_validator(mode="after")
    def _sizes(self) -> Config:
        d, m = self.data, self.model
        if d.source == "random":
            if m.input_size is not None and m.input_size != d.n_features:
                raise ValueError(
                    f"model.input_size is {m.input_size} but data.n_features is {d.n_features}"
                )
            if m.output_size is not None and m.output_size != d.n_labels:
                raise ValueError(
                    f"model.output_size is {m.output_size} but data.n_labels is {d.n_labels}"
                )
        pw = self.train.pos_weight
        if isinstance(pw, list) and m.output_size is not None and len(pw) != m.output_size:
            raise ValueError(
                f"train.pos_weight has {len(pw)} values but the model has {m.output_size} outputs"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data, without the keys that do not apply to the
        data source (so that it validates again as it is)."""
        out = self.model_dump(mode="json")
        irrelevant = (
            ("path", "labels", "features", "val_path")
            if self.data.source == "random"
            else ("n_samples", "n_features", "n_labels")
        )
        for key in irrelevant:
            out["data"].pop(key, None)
        if self.data.val_path is not None:  # the whole val_path is held out: no fraction
            out["data"].pop("val_fraction", None)
        return out

    def to_yaml(self) -> str:
        """Block style for sections, flow style for lists (`hidden_sizes: [256, 64]`)."""
        return yaml.dump(self.to_dict(), Dumper=_ConfigDumper, sort_keys=False, width=100)


class _ConfigDumper(yaml.SafeDumper):
    pass


def _flow_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


_ConfigDumper.add_representer(list, _flow_list)


# ---------------------------------------------------------------------------------------------
# Strict YAML


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars and duplicate-key detection.

    SafeLoader already refuses tags that construct Python objects; we also drop YAML 1.1's
    `yes/no/on/off` booleans and its dot-requiring float syntax (`1e-3` must be a float).
    """


_StrictLoader.yaml_implicit_resolvers = {
    k: [
        (tag, rx)
        for tag, rx in v
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float")
    ]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key]})", mark
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def parse_yaml(text: str, where: str) -> Any:
    """Parse one YAML document strictly; errors name `where` and line:column."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        problem = e.problem or e.context or "invalid YAML"
        if "could not determine a constructor" in str(problem):
            tag = str(problem).split("tag", 1)[-1].strip()
            problem = f"YAML tag {tag} is not allowed (configs hold plain data only)"
        raise ConfigError(loc, str(problem)) from None
    except yaml.YAMLError as e:  # pragma: no cover - non-marked errors are rare
        raise ConfigError(where, str(e).replace("\n", " ")) from None


# ---------------------------------------------------------------------------------------------
# Validation errors → one line each


def _submodel(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = Config
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return None
    return model


def _all_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.extend(_all_paths(ann, path + "."))
    return out


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _clean_loc(loc: tuple[Any, ...]) -> list[str]:
    # pydantic adds union-member names ("list[...]", "literal[...]") into loc: drop them
    return [
        str(p)
        for p in loc
        if not (isinstance(p, str) and ("[" in p or p.startswith(("function-", "constrained-"))))
    ]


def _nearest_key(clean: list[str]) -> str:
    parent = _submodel(tuple(clean[:-1]))
    key, prefix = clean[-1], ".".join(clean[:-1])
    near = difflib.get_close_matches(key, list(parent.model_fields) if parent else [], 1, 0.5)
    if near:
        return f"{prefix + '.' if prefix else ''}{near[0]}"
    # maybe the key belongs in another section: compare with every key's last part
    paths = _all_paths(Config)
    leaves = {p.rsplit(".", 1)[-1]: p for p in paths}
    near = difflib.get_close_matches(key, list(leaves), 1, 0.7)
    if near:
        return leaves[near[0]]
    near = difflib.get_close_matches(".".join(clean), paths, 1, 0.6)
    return near[0] if near else ""


def _expected(msg: str) -> str:
    for head in ("Input should be ", "Value should be "):
        if msg.startswith(head):
            want = msg[len(head) :]
            return f"a value {want}" if want.startswith(("greater", "less")) else want
    return msg[0].lower() + msg[1:]


def _format_errors(errors: list[Any]) -> list[str]:
    """One message per key path; a union's alternatives are merged into one 'expected'."""
    by_path: dict[str, list[Any]] = {}
    for err in errors:
        path = ".".join(_clean_loc(tuple(err["loc"])))
        by_path.setdefault(path, []).append(err)
    out = []
    for path, errs in by_path.items():
        first = errs[0]
        etype = first["type"]
        if etype == "extra_forbidden":
            near = _nearest_key(_clean_loc(tuple(first["loc"])))
            out.append(f"{path}: unknown key" + (f"; did you mean '{near}'?" if near else ""))
        elif first["msg"].startswith("Value error, "):
            msg = first["msg"][len("Value error, ") :]
            out.append(f"{path}: {msg}" if path else msg)
        elif etype == "missing":
            out.append(f"{path}: required key is missing")
        else:
            wants = []
            for e in errs:
                want = _expected(e["msg"])
                if want not in wants:
                    wants.append(want)
            out.append(
                f"{path}: expected {' or '.join(wants)}; got {_describe(first.get('input'))}"
            )
    return out


def _validate(raw: Any, where: str) -> Config:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(where, f"expected a mapping of keys at the top, got {_describe(raw)}")
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        # every problem at once, on one line
        raise ConfigError(where, "; ".join(_format_errors(e.errors()))) from None


# ---------------------------------------------------------------------------------------------
# Loading


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one `KEY=VALUE` (dotted key, YAML value) to the raw config mapping in place."""
    where = f"--set {item}"
    if "=" not in item:
        raise ConfigError(where, "expected KEY=VALUE, for example train.lr=0.001")
    key, _, text = item.partition("=")
    key = key.strip()
    if not key or any(not p for p in key.split(".")):
        raise ConfigError(where, f"bad key {key!r}")
    value = parse_yaml(text, where) if text.strip() else None
    parts = key.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = {}
            node[part] = child
        if not isinstance(child, dict):
            raise ConfigError(where, f"'{'.'.join(parts[: i + 1])}' is not a section")
        node = child
    node[parts[-1]] = value


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, override, validate and resolve a config.

    `path=None` gives the defaults (the tutorial) plus overrides. Relative data paths are
    resolved against the config file's folder and stored absolute, so the resolved config
    reruns from anywhere; `out_dir` is left as given (relative to the working directory).
    """
    base = Path.cwd()
    raw: Any = {}
    where = "--set"
    if path is not None:
        p = Path(path)
        where = str(path)
        if p.is_dir():
            raise ConfigError(where, "is a directory, expected a YAML file")
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(where, "config file not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(where, f"cannot read: {e}") from None
        raw = parse_yaml(text, where)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(where, f"expected a mapping of keys at the top, got {_describe(raw)}")
        base = p.resolve().parent
        # the default name is the file's stem, made safe for a folder name
        raw.setdefault("name", re.sub(r"[^A-Za-z0-9_.-]+", "-", p.stem).strip("-.") or "run")
    file_raw = copy.deepcopy(raw)
    for item in overrides:
        apply_override(raw, item)
    try:
        cfg = _validate(raw, where)
    except ConfigError as e:
        if overrides and path is not None:
            try:  # the file alone is fine: the overrides are to blame
                _validate(file_raw, where)
            except ConfigError:
                raise e from None
            raise ConfigError("command line (--set/--device)", e.what) from None
        raise
    return _resolve_paths(cfg, base)


def _resolve_paths(cfg: Config, base: Path) -> Config:
    d = cfg.data
    updates: dict[str, Any] = {}
    for key in ("path", "val_path"):
        value = getattr(d, key)
        if value is not None:
            p = Path(value).expanduser()
            updates[key] = str(p if p.is_absolute() else (base / p).resolve())
    if not updates:
        return cfg
    return cfg.model_copy(update={"data": d.model_copy(update=updates)})


def config_from_dict(raw: dict[str, Any], where: str) -> Config:
    """Validate an already-resolved config (for instance from an artifact's metadata)."""
    return _validate(raw, where)


def json_schema() -> dict[str, Any]:
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "sigmoidnet config"
    return schema
