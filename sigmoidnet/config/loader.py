"""Reading a config: the file, `--set` overrides, validation, and one line per problem."""

from __future__ import annotations

import copy
import difflib
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sigmoidnet.config._base import describe
from sigmoidnet.config.schema import Config
from sigmoidnet.config.yaml_strict import SIZE_LIMIT, parse_yaml
from sigmoidnet.errors import ConfigError
from sigmoidnet.fsutil import InputFileError, open_input
from sigmoidnet.limits import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_NAME_LENGTH


def _section(ann: Any) -> type[BaseModel] | None:
    """The section model of a field's annotation: `Model` or `Model | None` (a section that
    may be off, such as `train.early_stopping`)."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    args = [a for a in getattr(ann, "__args__", ()) if a is not type(None)]
    if len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0]
    return None


def _submodel(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = Config
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        sub = _section(field.annotation)
        if sub is None:
            return None
        model = sub
    return model


def _all_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        sub = _section(field.annotation)
        if sub is not None:
            out.extend(_all_paths(sub, path + "."))
    return out


def _clean_loc(loc: tuple[Any, ...], *, user_key_last: bool = False) -> list[str]:
    # pydantic adds union-member names ("list[...]", "literal[...]") into loc: drop them.
    # The last entry of an unknown-key error is the user's own key, whatever it looks like.
    if user_key_last and loc:
        return [*_clean_loc(loc[:-1]), str(loc[-1])]
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
        unknown = err["type"] == "extra_forbidden"
        path = ".".join(_clean_loc(tuple(err["loc"]), user_key_last=unknown))
        by_path.setdefault(path, []).append(err)
    out = []
    for path, errs in by_path.items():
        first = errs[0]
        etype = first["type"]
        if etype == "extra_forbidden":
            near = _nearest_key(_clean_loc(tuple(first["loc"]), user_key_last=True))
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
            out.append(f"{path}: expected {' or '.join(wants)}; got {describe(first.get('input'))}")
    return out


def _validate(raw: Any, where: str) -> Config:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(where, f"expected a mapping of keys at the top, got {describe(raw)}")
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        # every problem at once, on one line
        raise ConfigError(where, "; ".join(_format_errors(e.errors()))) from None


# ---------------------------------------------------------------------------------------------
# Loading


def _shown(text: str, width: int = 80) -> str:
    """`text` for a one-line message: shortened, control characters and lone surrogates
    escaped."""
    if len(text) > width:
        text = text[: width - 3] + "..."
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one `KEY=VALUE` (dotted key, YAML value) to the raw config mapping in place."""
    where = f"--set {_shown(item)}"
    if "=" not in item:
        raise ConfigError(where, "expected KEY=VALUE, for example train.lr=0.001")
    key, _, text = item.partition("=")
    key = key.strip()
    if not key or any(not p for p in key.split(".")) or not key.isprintable():
        raise ConfigError(where, f"bad key {key!r}")
    parts = key.split(".")
    if len(parts) >= MAX_CONFIG_DEPTH:
        raise ConfigError(where, f"the key nests deeper than {MAX_CONFIG_DEPTH} levels (the limit)")
    value = parse_yaml(text, where, key) if text.strip() else None
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


def _read_config_text(path: Path, where: str) -> str:
    """The text of a config file: a regular file (never a FIFO or a device), at most
    `MAX_CONFIG_BYTES` (at most one byte more is read), UTF-8."""
    try:
        f, _ = open_input(
            path, missing="config file not found", directory="is a directory, expected a YAML file"
        )
    except InputFileError as e:
        raise ConfigError(where, str(e)) from None
    try:
        with f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise ConfigError(where, f"cannot read: {e.strerror or e}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(where, f"larger than {SIZE_LIMIT} (the limit for a config file)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            where, f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})"
        ) from None


def _default_name(path: Path) -> str:
    """The config file's stem, made safe for a folder name (and at most MAX_NAME_LENGTH)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-.")
    return name[:MAX_NAME_LENGTH].rstrip("-.") or "run"


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
        raw = parse_yaml(_read_config_text(p, where), where)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(where, f"expected a mapping of keys at the top, got {describe(raw)}")
        base = Path(os.path.realpath(p)).parent
        raw.setdefault("name", _default_name(p))
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
            # os.path, not pathlib: `~nosuchuser` is left as it is (then simply a missing
            # file, exit 3) and a symlink loop is left for the reader to name (exit 3)
            p = os.path.expanduser(value)
            updates[key] = os.path.realpath(os.path.join(base, p))
    if not updates:
        return cfg
    return cfg.model_copy(update={"data": d.model_copy(update=updates)})


def config_from_dict(raw: dict[str, Any], where: str) -> Config:
    """Validate an already-resolved config (for instance from an artifact's metadata)."""
    return _validate(raw, where)
