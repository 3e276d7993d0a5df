"""The config schema and its loader: every validation of user configuration happens here.

`load_config(path, overrides)` reads YAML strictly — YAML 1.2 core-schema scalars (`1e-3` is a
float; `no`, `1_000`, `0b101` and dates are strings), no duplicate keys, only plain-data tags —
and within limits (`sigmoidnet.limits`): a regular file of at most 1 MiB, no anchors or
aliases, at most 32 levels of nesting and 100,000 values, scalar keys, integers of at most 100
digits, no lone surrogates. It applies `--set KEY=VALUE` overrides (YAML values, under the same
rules), validates with pydantic in strict mode and returns a frozen `Config`. Errors are
`ConfigError`s (exit 2) whose one-line message names the file (and line:column), the key
path, what was expected and what was got, and — for unknown keys — the nearest valid key.
"""

from __future__ import annotations

import collections
import copy
import difflib
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from sigmoidnet.errors import ConfigError
from sigmoidnet.fsutil import InputFileError, open_input
from sigmoidnet.limits import (
    MAX_CATEGORIES,
    MAX_CONFIG_BYTES,
    MAX_CONFIG_DEPTH,
    MAX_CONFIG_VALUES,
    MAX_HIDDEN_LAYERS,
    MAX_INT_DIGITS,
    MAX_NAME_LENGTH,
)

_SIZE_LIMIT = f"{MAX_CONFIG_BYTES // 2**20} MiB"

DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")

PosInt = Annotated[int, Field(ge=1)]
PosFloat = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    # no key takes NaN or an infinity
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, validate_default=True, allow_inf_nan=False
    )


def path_problem(value: str) -> str | None:
    """What makes `value` unusable as a path, before any file system call, or None."""
    if "\x00" in value:
        return "the path contains a NUL byte"
    bad = next((c for c in value if "\ud800" <= c <= "\udfff"), None)
    if bad is not None:
        return f"the path is not valid text (it holds a lone surrogate, {bad!a})"
    return None


def _check_path(v: str | None) -> str | None:
    if v is not None:
        problem = path_problem(v)
        if problem is not None:
            raise ValueError(problem)
    return v


NAME_RULE = (
    f"a name is 1 to {MAX_NAME_LENGTH} characters: letters A-Z and a-z, digits, '_', '-' and"
    " '.', and does not start with '.'"
)


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a run directory, or None. Allowed: 1 to MAX_NAME_LENGTH ASCII
    letters, digits, `_`, `-` and `.`, not starting with `.` (no path separators, no NUL, no
    control characters, nothing a file system might refuse or hide)."""
    if not name:
        return "empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"too long ({len(name)} characters)"
    for c in name:
        if c.isascii() and (c.isalnum() or c in "_-."):
            continue
        if c in "/\\":
            return f"a path separator ({c!r}) is not allowed"
        if c == "\x00":
            return "a NUL byte is not allowed"
        if not c.isprintable():
            return f"a control character ({c!a}) is not allowed"
        return f"{c!a} is not allowed"
    if name.startswith("."):
        return "it starts with '.'"
    return None


#: the data keys for real tables (column types, label values, categories, missing values)
_TABLE_KEYS = (
    "categorical",
    "numeric",
    "exclude",
    "positive",
    "max_categories",
    "impute",
    "delimiter",
)
#: a label value named in `data.positive`: text, a number or a boolean, as the file holds it
StrictLabelValue = Annotated[str | int | float | bool, Field(union_mode="left_to_right")]


class DataConfig(_Strict):
    """Where the rows come from. `random` is the tutorial's data."""

    source: Literal["random", "csv", "parquet", "npz"] = "random"
    # random only (the tutorial: torch.rand features, torch.randint(0, 2) targets)
    n_samples: PosInt = 32
    n_features: PosInt = 64
    n_labels: PosInt = 2
    # file sources
    path: str | None = None  # relative to the config file's folder
    labels: list[str] | None = None
    features: list[str] | None = None
    val_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] | None = Field(
        default=None,
        description="Share of rows held out for validation (seeded; stratified for one label)."
        " Default: 0.2 for file sources, 0.0 for random data (the tutorial trains on all rows).",
    )
    val_path: str | None = None
    normalize: Literal["standard", "none"] = "standard"
    # real tables (csv and parquet): column types, labels, categories, missing values
    categorical: list[str] | None = Field(
        default=None, description="Feature columns read as categories (one-hot encoded)."
    )
    numeric: list[str] | None = Field(
        default=None, description="Feature columns read as numbers (text in them is an error)."
    )
    exclude: list[str] | None = Field(default=None, description="Columns left out of the features.")
    positive: dict[str, StrictLabelValue] | None = Field(
        default=None,
        description="The positive value of a label column whose two values are not an obvious"
        " pair (yes/no, true/false, 1/0, ...): {COLUMN: VALUE}.",
    )
    max_categories: Annotated[int, Field(ge=1, le=MAX_CATEGORIES)] = 50
    impute: Literal["median", "mean", "error"] = "median"
    delimiter: Literal["auto", ",", ";", "\t", "tab", "|"] = "auto"

    _paths = field_validator("path", "val_path")(_check_path)

    @field_validator("labels", "features", "categorical", "numeric", "exclude", mode="before")
    @classmethod
    def _one_name_is_a_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("labels", "features", "categorical", "numeric", "exclude")
    @classmethod
    def _unique_names(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("expected at least one column name, got an empty list")
            dup = sorted(n for n, k in collections.Counter(v).items() if k > 1)
            if dup:
                raise ValueError(f"column names must be unique, got {dup[0]!r} twice")
        return v

    @model_validator(mode="after")
    def _check_source(self) -> DataConfig:
        random_only = {"n_samples", "n_features", "n_labels"}
        file_only = {"path", "labels", "features", "val_path", *_TABLE_KEYS}
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
        self._check_table_keys()
        return self

    def _check_table_keys(self) -> None:
        """The column lists agree with each other (whether the columns exist is the data's
        business: `sigmoidnet.data` checks them against the file's header)."""
        if self.source == "npz":
            bad = sorted(
                k for k in _TABLE_KEYS if k in self.model_fields_set and k not in ("positive",)
            )
            if bad:
                raise ValueError(f"'{bad[0]}' applies to csv and parquet files, not npz")
        labels = set(self.labels or [])
        groups = {
            "features": self.features,
            "categorical": self.categorical,
            "numeric": self.numeric,
            "exclude": self.exclude,
        }
        for key, names in groups.items():
            for name in names or []:
                if name in labels:
                    raise ValueError(f"column {name!r} is a label; it cannot be in '{key}'")
        both = sorted(set(self.categorical or []) & set(self.numeric or []))
        if both:
            raise ValueError(f"column {both[0]!r} is in both 'categorical' and 'numeric'")
        dropped = set(self.exclude or [])
        for key in ("features", "categorical", "numeric"):
            clash = sorted(dropped & set(groups[key] or []))
            if clash:
                raise ValueError(f"column {clash[0]!r} is in both 'exclude' and '{key}'")
        if self.features is not None:
            chosen = set(self.features)
            for key in ("categorical", "numeric"):
                outside = [n for n in groups[key] or [] if n not in chosen]
                if outside:
                    raise ValueError(f"column {outside[0]!r} is in '{key}' but not in 'features'")
        for name in self.positive or {}:
            if self.labels is not None and name not in labels:
                raise ValueError(
                    f"'positive' names {name!r}, which is not a label column {sorted(labels)}"
                )

    @property
    def delimiter_char(self) -> str | None:
        """The CSV delimiter, or None to sniff it."""
        if self.delimiter == "auto":
            return None
        return "\t" if self.delimiter == "tab" else self.delimiter

    @property
    def holdout(self) -> float:
        return float(self.val_fraction or 0.0)


class ModelConfig(_Strict):
    """The MLP: input → hidden_sizes (any depth) → output logits; Sigmoid at inference."""

    input_size: PosInt | None = None
    hidden_sizes: list[PosInt] = Field(
        default_factory=lambda: [128], json_schema_extra={"maxItems": MAX_HIDDEN_LAYERS}
    )
    output_size: PosInt | None = None
    activation: Literal["relu", "gelu", "tanh", "sigmoid", "leaky_relu", "silu", "elu"] = "relu"
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0

    @field_validator("hidden_sizes")
    @classmethod
    def _depth(cls, v: list[int]) -> list[int]:
        if len(v) > MAX_HIDDEN_LAYERS:
            raise ValueError(f"at most {MAX_HIDDEN_LAYERS} hidden layers, got {len(v)}")
        return v


#: the validation metrics of an epoch row (`sigmoidnet.evaluation.epoch_metrics`) and the way
#: each one improves: early stopping and the plateau schedule follow any of them
VAL_METRICS: dict[str, Literal["min", "max"]] = {
    "val_loss": "min",
    "val_accuracy": "max",
    "val_f1": "max",
    "val_roc_auc": "max",
}
#: what the plateau schedule may follow: a validation metric, or the training loss
PLATEAU_METRICS: dict[str, Literal["min", "max"]] = {"train_loss": "min", **VAL_METRICS}


def _metric_choice(value: str, valid: dict[str, Any]) -> str:
    if value not in valid:
        near = [k for k in valid if k.endswith(f"_{value}")][:1]  # `auc` → `val_roc_auc`
        near = near or difflib.get_close_matches(value, list(valid), 1, 0.5)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise ValueError(
            f"expected one of {', '.join(valid)}; got {value!r}{hint} (a metric of the epoch rows)"
        )
    return value


class _Schedule(_Strict):
    """One `train.lr_schedule`: its name and its own parameters (all with defaults)."""

    name: str

    @model_serializer(mode="wrap")
    def _short(self, handler: SerializerFunctionWrapHandler) -> Any:
        # a schedule with every parameter at its default is written as its bare name
        fields = type(self).model_fields
        if all(getattr(self, k) == f.default for k, f in fields.items() if k != "name"):
            return self.name
        return handler(self)


class ConstantSchedule(_Schedule):
    """The lr stays `train.lr` (after the warmup, if any). The tutorial's."""

    name: Literal["constant"] = "constant"


class CosineSchedule(_Schedule):
    """`CosineAnnealingLR`, stepped once per epoch."""

    name: Literal["cosine"] = "cosine"
    t_max: PosInt | None = Field(
        default=None,
        description="Epochs of the half cosine (default: train.epochs - train.warmup_epochs; "
        "extending such a run re-targets the rest of the annealing to the new train.epochs).",
    )
    eta_min: Annotated[float, Field(ge=0.0)] = Field(default=0.0, description="The lowest lr.")


class StepSchedule(_Schedule):
    """`StepLR`: lr × gamma every `step_size` epochs."""

    name: Literal["step"] = "step"
    step_size: PosInt = Field(default=10, description="Epochs between two decays.")
    gamma: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1


class ExponentialSchedule(_Schedule):
    """`ExponentialLR`: lr × gamma after every epoch."""

    name: Literal["exponential"] = "exponential"
    gamma: Annotated[float, Field(gt=0.0, le=1.0)] = 0.95


class PlateauSchedule(_Schedule):
    """`ReduceLROnPlateau` on a metric of the epoch rows (its direction known: loss down,
    the others up; relative threshold). An epoch whose metric is n/a is not counted."""

    name: Literal["plateau"] = "plateau"
    metric: str = Field(default="val_loss", description=f"One of {', '.join(PLATEAU_METRICS)}.")
    factor: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    patience: Annotated[int, Field(ge=0)] = 10
    threshold: Annotated[float, Field(ge=0.0)] = 1e-4
    cooldown: Annotated[int, Field(ge=0)] = 0
    min_lr: Annotated[float, Field(ge=0.0)] = 0.0

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        return _metric_choice(v, PLATEAU_METRICS)

    @property
    def mode(self) -> Literal["min", "max"]:
        return PLATEAU_METRICS[self.metric]


class OneCycleSchedule(_Schedule):
    """`OneCycleLR`, stepped after every optimizer step over train.epochs × the steps of an
    epoch (so a onecycle run cannot be extended). It warms up by itself (`pct_start`):
    `train.warmup_epochs` does not apply."""

    name: Literal["onecycle"] = "onecycle"
    max_lr: PosFloat | None = Field(default=None, description="The peak lr (default: train.lr).")
    pct_start: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.3
    anneal_strategy: Literal["cos", "linear"] = "cos"
    div_factor: Annotated[float, Field(ge=1.0)] = 25.0
    final_div_factor: Annotated[float, Field(ge=1.0)] = 1e4
    three_phase: bool = False
    cycle_momentum: bool = Field(
        default=False,
        description="Cycle SGD's momentum / Adam's beta1 between 0.85 and 0.95, inversely to "
        "the lr (torch's default; off here, so the optimizer's own momentum stays as it is).",
    )


_SCHEDULES: dict[str, type[_Schedule]] = {
    "constant": ConstantSchedule,
    "cosine": CosineSchedule,
    "step": StepSchedule,
    "exponential": ExponentialSchedule,
    "plateau": PlateauSchedule,
    "onecycle": OneCycleSchedule,
}


def _schedule_tag(v: Any) -> str | None:
    # tags with '[' are dropped from error paths (`_clean_loc`): `train.lr_schedule.gamma`
    name = v.get("name") if isinstance(v, dict) else getattr(v, "name", None)
    return f"schedule[{name}]" if name in _SCHEDULES else None


ScheduleConfig = Annotated[
    Annotated[ConstantSchedule, Tag("schedule[constant]")]
    | Annotated[CosineSchedule, Tag("schedule[cosine]")]
    | Annotated[StepSchedule, Tag("schedule[step]")]
    | Annotated[ExponentialSchedule, Tag("schedule[exponential]")]
    | Annotated[PlateauSchedule, Tag("schedule[plateau]")]
    | Annotated[OneCycleSchedule, Tag("schedule[onecycle]")],
    Discriminator(_schedule_tag),
]


def _schedule_names_schema(schema: dict[str, Any]) -> None:
    """The JSON Schema of `train.lr_schedule` also takes a bare name."""
    schema.setdefault("oneOf", []).insert(0, {"type": "string", "enum": list(_SCHEDULES)})


class EarlyStoppingConfig(_Strict):
    """Stop when `metric` has not improved by more than `min_delta` for `patience` epochs
    in a row; the model kept (`model.safetensors`) is the best epoch by `metric`."""

    metric: str = Field(default="val_loss", description=f"One of {', '.join(VAL_METRICS)}.")
    patience: PosInt = 5
    min_delta: Annotated[float, Field(ge=0.0)] = 0.0

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        return _metric_choice(v, VAL_METRICS)

    @property
    def mode(self) -> Literal["min", "max"]:
        return VAL_METRICS[self.metric]


class TrainConfig(_Strict):
    epochs: PosInt = 10
    batch_size: PosInt = 32
    lr: PosFloat = 0.01
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.0
    pos_weight: Literal["auto"] | list[PosFloat] | None = None
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    lr_schedule: ScheduleConfig = Field(
        default_factory=ConstantSchedule,
        description="constant | cosine | step | exponential | plateau | onecycle, or a mapping"
        " {name: ..., <its parameters>}, e.g. {name: step, step_size: 10, gamma: 0.5}.",
        json_schema_extra=_schedule_names_schema,
    )
    warmup_epochs: Annotated[int, Field(ge=0)] = Field(
        default=0,
        description="Linear warmup: epoch k of the first N trains at lr·k/(N+1); then the "
        "schedule starts from train.lr. Less than train.epochs.",
    )
    grad_clip: PosFloat | None = Field(
        default=None,
        description="The largest total gradient norm (torch.nn.utils.clip_grad_norm_); null: off.",
    )
    early_stopping: EarlyStoppingConfig | None = Field(
        default=None, description="{metric: val_loss, patience: 5, min_delta: 0.0}; null: off."
    )
    checkpoint_every: Literal["epoch"] | PosInt = Field(
        default="epoch",
        description="When the resumable state is saved: at every epoch's end, or also every N "
        "optimizer steps (mid-epoch).",
    )

    @field_validator("lr_schedule", mode="before")
    @classmethod
    def _schedule_form(cls, v: Any) -> Any:
        """A bare name is the schedule with its defaults; the name must be known, and so must
        every key of the mapping form (named here, with the nearest valid key)."""
        names = ", ".join(_SCHEDULES)
        if isinstance(v, _Schedule):
            return v
        if isinstance(v, str):
            v = {"name": v}
        if not isinstance(v, dict):
            raise ValueError(
                f"expected a schedule name ({names}) or a mapping {{name: ..., <parameters>}};"
                f" got {_describe(v)}"
            )
        name = v.get("name")
        if name is None:
            raise ValueError(f"a schedule mapping needs 'name' ({names})")
        if not isinstance(name, str) or name not in _SCHEDULES:
            near = difflib.get_close_matches(str(name), list(_SCHEDULES), 1, 0.5)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise ValueError(f"expected one of {names}; got {_describe(name)}{hint}")
        fields = list(_SCHEDULES[name].model_fields)
        for key in v:
            if key not in fields:
                near = difflib.get_close_matches(str(key), fields, 1, 0.5)
                hint = f"; did you mean '{near[0]}'?" if near else ""
                raise ValueError(
                    f"unknown key {str(key)!r} for schedule {name!r}{hint} (its keys: "
                    f"{', '.join(fields[1:]) or 'none'})"
                )
        return v

    @model_validator(mode="after")
    def _momentum_for_sgd(self) -> TrainConfig:
        if self.momentum and self.optimizer != "sgd" and "momentum" in self.model_fields_set:
            raise ValueError(f"'momentum' applies to optimizer 'sgd' only, got '{self.optimizer}'")
        return self

    @model_validator(mode="after")
    def _warmup(self) -> TrainConfig:
        if self.warmup_epochs and self.lr_schedule.name == "onecycle":
            raise ValueError(
                "'warmup_epochs' does not apply to lr_schedule 'onecycle' (it warms up by "
                "itself: set lr_schedule.pct_start)"
            )
        if self.warmup_epochs >= self.epochs:
            raise ValueError(
                f"'warmup_epochs' ({self.warmup_epochs}) must be less than 'epochs' ({self.epochs})"
            )
        return self

    @property
    def checkpoint_steps(self) -> int:
        """Optimizer steps between two mid-epoch states (0: at epoch ends only)."""
        return 0 if self.checkpoint_every == "epoch" else int(self.checkpoint_every)


_THRESHOLD_FORMS = (
    "a number in [0, 1], f1, youden, {precision: P}, {recall: R} or {cost: {fp: A, fn: B}}"
)


def _threshold_rule(v: Any) -> Any:
    """`decision.threshold`: a number, or a rule tuned on the validation rows (checked here,
    so that every error names the form it expected)."""
    if isinstance(v, bool):
        raise ValueError(f"expected {_THRESHOLD_FORMS}; got {_describe(v)}")
    if isinstance(v, int | float):
        if not (0.0 <= float(v) <= 1.0) or v != v:
            raise ValueError(f"a threshold must lie in [0, 1]; got {v}")
        return float(v)
    if isinstance(v, str):
        if v not in ("f1", "youden"):
            near = difflib.get_close_matches(v, ["f1", "youden"], 1, 0.5)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise ValueError(f"expected {_THRESHOLD_FORMS}; got {_describe(v)}{hint}")
        return v
    if isinstance(v, dict) and len(v) == 1:
        ((key, value),) = v.items()
        if key in ("precision", "recall"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{key}: expected a number in (0, 1]; got {_describe(value)}")
            if not (0.0 < float(value) <= 1.0):
                raise ValueError(f"{key}: expected a number in (0, 1]; got {value}")
            return {key: float(value)}
        if key == "cost":
            if not isinstance(value, dict) or set(value) != {"fp", "fn"}:
                raise ValueError(
                    "cost: expected {fp: A, fn: B}, the cost of a false positive "
                    "and of a false negative"
                )
            out = {}
            for k in ("fp", "fn"):
                w = value[k]
                if isinstance(w, bool) or not isinstance(w, int | float) or not (0 <= w < 1e300):
                    raise ValueError(f"cost.{k}: expected a number >= 0; got {_describe(w)}")
                out[k] = float(w)
            if out["fp"] == 0 and out["fn"] == 0:
                raise ValueError("cost: fp and fn cannot both be 0")
            return {"cost": out}
        near = difflib.get_close_matches(str(key), ["precision", "recall", "cost"], 1, 0.5)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise ValueError(f"unknown key {str(key)!r}{hint}: expected {_THRESHOLD_FORMS}")
    raise ValueError(f"expected {_THRESHOLD_FORMS}; got {_describe(v)}")


class DecisionConfig(_Strict):
    """How each label's 0/1 decision is made from its probability (`p > threshold`)."""

    threshold: Any = Field(
        default=0.5,
        description="A number in [0, 1] for every label, or a rule tuned per label on the "
        "validation rows after training: f1 | youden | {precision: P} | {recall: R} | "
        "{cost: {fp: A, fn: B}}.",
        json_schema_extra={
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 1},
                {"enum": ["f1", "youden"]},
                {"type": "object"},
            ]
        },
    )

    calibration: Literal["none", "temperature", "platt"] = Field(
        default="none",
        description="Probability calibration per label, fitted on the validation rows after "
        "training (before the thresholds are tuned): none | temperature | platt.",
    )

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, v: Any) -> Any:
        return _threshold_rule(v)

    @property
    def tuned(self) -> bool:
        """The threshold is a rule tuned on the validation rows (not a number)."""
        return not isinstance(self.threshold, float)

    @property
    def fitted(self) -> bool:
        """Something is fitted on the validation rows after training."""
        return self.tuned or self.calibration != "none"


class Config(_Strict):
    """A whole, resolved sigmoidnet config."""

    name: Annotated[
        str,
        Field(
            description=f"Names the run directory. {NAME_RULE}.",
            json_schema_extra={
                "minLength": 1,
                "maxLength": MAX_NAME_LENGTH,
                "pattern": r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$",
            },
        ),
    ] = "sigmoidnet"
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    device: str = "auto"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    decision: DecisionConfig = Field(default_factory=DecisionConfig)
    out_dir: str = "runs"

    _out_dir = field_validator("out_dir")(_check_path)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        problem = name_problem(v)
        if problem is not None:
            raise ValueError(f"{problem}; {NAME_RULE}")
        return v

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
            ("path", "labels", "features", "val_path", *_TABLE_KEYS)
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


# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution): the only implicit
# types are null, bool, int (decimal, 0o octal, 0x hex) and float; any other plain scalar is a
# string (YAML 1.1's yes/no/on/off, 1_000, 0b101, 014 as octal, 1:30, dates, `<<` and `=`).
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_TAG = "tag:yaml.org,2002:"


class _LimitError(yaml.MarkedYAMLError):
    """A config past one of `sigmoidnet.limits`' bounds (or an anchor/alias)."""


class _StrictLoader(yaml.SafeLoader):
    """YAML 1.2 core-schema plain data, within limits, and nothing else.

    - scalars resolve as YAML 1.2's core schema (`1e-3` is a float, `no` and `1_000` strings);
    - only the core tags construct (str, int, float, bool, null, seq, map): other tags, such
      as the ones that build Python objects, are refused;
    - anchors and aliases are refused when composed, before anything expands (billion laughs,
      alias cycles); mappings and lists nest at most `MAX_CONFIG_DEPTH` deep, checked as
      each one opens, before the recursive composer can overflow the stack; at most
      `MAX_CONFIG_VALUES` nodes, which bounds the time spent in the (pure Python) parser;
    - mapping keys are scalars and unique; an integer has at most `MAX_INT_DIGITS` digits;
      text holds no lone surrogates. These errors name the key path (`_path`).
    """

    yaml_constructors: ClassVar[dict[Any, Any]] = {}
    yaml_multi_constructors: ClassVar[dict[Any, Any]] = {}

    def __init__(self, stream: str, path: tuple[str, ...] = ()) -> None:
        super().__init__(stream)
        self._depth = len(path)  # a `--set` value starts below its key's sections
        self._nodes = 0
        self._path: list[str] = list(path)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _LimitError(
                None,
                None,
                "YAML anchors and aliases are not allowed (a config is plain data)",
                event.start_mark,
            )
        self._nodes += 1
        if self._nodes > MAX_CONFIG_VALUES:
            raise _LimitError(
                None,
                None,
                f"more than {MAX_CONFIG_VALUES:,} values (keys, scalars, lists and mappings;"
                " the limit)",
                event.start_mark,
            )
        if not isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_CONFIG_DEPTH:
                raise _LimitError(
                    None,
                    None,
                    f"lists and mappings nest deeper than {MAX_CONFIG_DEPTH} levels (the limit)",
                    event.start_mark,  # type: ignore[arg-type]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def problem(self, node: yaml.Node, what: str) -> yaml.constructor.ConstructorError:
        """A construction error at `node`, naming the key path when there is one."""
        path = ".".join(self._path)
        return yaml.constructor.ConstructorError(
            None, None, f"{path}: {what}" if path else what, node.start_mark
        )


_StrictLoader.yaml_implicit_resolvers = {}  # only the core schema's, added here
for _tag, _rx, _first in (
    ("null", _NULL_RE, ["~", "n", "N", ""]),
    ("bool", _BOOL_RE, list("tTfF")),
    ("int", _INT_RE, list("-+0123456789")),
    ("float", _FLOAT_RE, list("-+0123456789.")),
):
    _StrictLoader.add_implicit_resolver(_TAG + _tag, _rx, _first)


def _scalar(loader: _StrictLoader, node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise loader.problem(node, f"expected a scalar for tag {node.tag}, got a collection")
    return str(node.value)


def _construct_str(loader: _StrictLoader, node: yaml.Node) -> str:
    text = _scalar(loader, node)
    bad = next((c for c in text if "\ud800" <= c <= "\udfff"), None)
    if bad is not None:
        raise loader.problem(node, f"{bad!r} is a lone surrogate, not a character")
    return text


def _construct_null(loader: _StrictLoader, node: yaml.Node) -> None:
    if not _NULL_RE.match(_scalar(loader, node)):
        raise loader.problem(node, f"{node.value!r} is not a YAML 1.2 null")
    return None


def _construct_bool(loader: _StrictLoader, node: yaml.Node) -> bool:
    text = _scalar(loader, node)
    if not _BOOL_RE.match(text):
        raise loader.problem(node, f"{text!r} is not a YAML 1.2 boolean (true or false)")
    return text.lower() == "true"


def _construct_int(loader: _StrictLoader, node: yaml.Node) -> int:
    text = _scalar(loader, node)
    if not _INT_RE.match(text):
        raise loader.problem(node, f"{text!r} is not a YAML 1.2 integer")
    digits = len(text.lstrip("+-")) - (2 if text[:2] in ("0o", "0x") else 0)
    if digits > MAX_INT_DIGITS:
        raise loader.problem(
            node, f"an integer of {digits} digits is too long (the limit is {MAX_INT_DIGITS})"
        )
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_float(loader: _StrictLoader, node: yaml.Node) -> float:
    text = _scalar(loader, node)
    if not _FLOAT_RE.match(text):
        raise loader.problem(node, f"{text!r} is not a YAML 1.2 float")
    low = text.lower()
    if low.endswith(".nan"):
        return float("nan")
    if low.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    return float(text)


def _construct_seq(loader: _StrictLoader, node: yaml.Node) -> list[Any]:
    if not isinstance(node, yaml.SequenceNode):
        raise loader.problem(node, "expected a list")
    out = []
    for i, child in enumerate(node.value):
        loader._path.append(str(i))
        try:
            out.append(loader.construct_object(child, deep=True))
        finally:
            loader._path.pop()
    return out


def _construct_map(loader: _StrictLoader, node: yaml.Node) -> dict[Any, Any]:
    if not isinstance(node, yaml.MappingNode):
        raise loader.problem(node, "expected a mapping")
    out: dict[Any, Any] = {}
    first_line: dict[Any, int] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            raise loader.problem(key_node, f"a key must be a plain name, got a {kind}")
        key = loader.construct_object(key_node, deep=True)
        if key in first_line:
            full = ".".join([*loader._path, str(key)])
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {full!r} (first on line {first_line[key]})",
                key_node.start_mark,
            )
        first_line[key] = key_node.start_mark.line + 1
        loader._path.append(str(key))
        try:
            out[key] = loader.construct_object(value_node, deep=True)
        finally:
            loader._path.pop()
    return out


for _tag, _fn in (
    ("str", _construct_str),
    ("null", _construct_null),
    ("bool", _construct_bool),
    ("int", _construct_int),
    ("float", _construct_float),
    ("seq", _construct_seq),
    ("map", _construct_map),
):
    _StrictLoader.add_constructor(_TAG + _tag, _fn)


def _construct_undefined(loader: _StrictLoader, node: yaml.Node) -> Any:
    return loader.construct_undefined(node)  # raises: "could not determine a constructor"


_StrictLoader.add_constructor(None, _construct_undefined)


def parse_yaml(text: str, where: str, key: str = "") -> Any:
    """Parse one YAML document strictly; errors name `where` and line:column (and the key
    path below `key`, the dotted key of a `--set` value)."""
    if len(text) > MAX_CONFIG_BYTES or len(text.encode("utf-8", "surrogatepass")) > (
        MAX_CONFIG_BYTES
    ):
        raise ConfigError(where, f"larger than {_SIZE_LIMIT} (the limit for a config)")
    loader: _StrictLoader | None = None
    try:
        # the reader checks every character as the loader is made
        loader = _StrictLoader(text, tuple(key.split(".")) if key else ())
        return loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        problem = str(e.problem or e.context or "invalid YAML")
        if "could not determine a constructor" in problem:
            tag = problem.split("tag", 1)[-1].strip()
            problem = f"YAML tag {tag} is not allowed (configs hold plain data only)"
        raise ConfigError(loc, problem) from None
    except yaml.reader.ReaderError as e:
        # a character YAML does not allow (NUL, other control characters, a lone surrogate)
        before = text[: max(0, e.position)]
        line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        char = chr(e.character) if isinstance(e.character, int) else str(e.character)
        raise ConfigError(
            f"{where}:{line}:{col}", f"the character {char!r} is not allowed in YAML"
        ) from None
    except yaml.YAMLError as e:  # pragma: no cover - non-marked errors are rare
        raise ConfigError(where, str(e).replace("\n", " ")) from None
    finally:
        if loader is not None:
            loader.dispose()


# ---------------------------------------------------------------------------------------------
# Validation errors → one line each


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


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


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
        raise ConfigError(where, f"larger than {_SIZE_LIMIT} (the limit for a config file)")
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
            raise ConfigError(where, f"expected a mapping of keys at the top, got {_describe(raw)}")
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


def json_schema() -> dict[str, Any]:
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "sigmoidnet config"
    return schema
