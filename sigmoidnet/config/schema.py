"""The whole config: the `model` and `decision` sections, the top-level keys, and its YAML and
JSON Schema forms.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from sigmoidnet.config._base import (
    DEVICE_RE,
    NAME_RULE,
    PosInt,
    Strict,
    check_path,
    describe,
    name_problem,
)
from sigmoidnet.config.data import TABLE_KEYS, DataConfig
from sigmoidnet.config.training import TrainConfig
from sigmoidnet.limits import MAX_HIDDEN_LAYERS, MAX_NAME_LENGTH


class ModelConfig(Strict):
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


_THRESHOLD_FORMS = (
    "a number in [0, 1], f1, youden, {precision: P}, {recall: R} or {cost: {fp: A, fn: B}}"
)


def _threshold_rule(v: Any) -> Any:
    """`decision.threshold`: a number, or a rule tuned on the validation rows (checked here,
    so that every error names the form it expected)."""
    if isinstance(v, bool):
        raise ValueError(f"expected {_THRESHOLD_FORMS}; got {describe(v)}")
    if isinstance(v, int | float):
        if not (0.0 <= float(v) <= 1.0) or v != v:
            raise ValueError(f"a threshold must lie in [0, 1]; got {v}")
        return float(v)
    if isinstance(v, str):
        if v not in ("f1", "youden"):
            near = difflib.get_close_matches(v, ["f1", "youden"], 1, 0.5)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise ValueError(f"expected {_THRESHOLD_FORMS}; got {describe(v)}{hint}")
        return v
    if isinstance(v, dict) and len(v) == 1:
        ((key, value),) = v.items()
        if key in ("precision", "recall"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{key}: expected a number in (0, 1]; got {describe(value)}")
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
                    raise ValueError(f"cost.{k}: expected a number >= 0; got {describe(w)}")
                out[k] = float(w)
            if out["fp"] == 0 and out["fn"] == 0:
                raise ValueError("cost: fp and fn cannot both be 0")
            return {"cost": out}
        near = difflib.get_close_matches(str(key), ["precision", "recall", "cost"], 1, 0.5)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise ValueError(f"unknown key {str(key)!r}{hint}: expected {_THRESHOLD_FORMS}")
    raise ValueError(f"expected {_THRESHOLD_FORMS}; got {describe(v)}")


class DecisionConfig(Strict):
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


class Config(Strict):
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

    _out_dir = field_validator("out_dir")(check_path)

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
            ("path", "labels", "features", "val_path", *TABLE_KEYS)
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


def json_schema() -> dict[str, Any]:
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "sigmoidnet config"
    return schema
