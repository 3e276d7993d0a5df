"""The `train` section: epochs, the optimizer, the learning-rate schedules, early stopping and
states.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    field_validator,
    model_serializer,
    model_validator,
)

from sigmoidnet.config._base import PosFloat, PosInt, Strict, describe

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


class _Schedule(Strict):
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


class EarlyStoppingConfig(Strict):
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


class TrainConfig(Strict):
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
                f" got {describe(v)}"
            )
        name = v.get("name")
        if name is None:
            raise ValueError(f"a schedule mapping needs 'name' ({names})")
        if not isinstance(name, str) or name not in _SCHEDULES:
            near = difflib.get_close_matches(str(name), list(_SCHEDULES), 1, 0.5)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise ValueError(f"expected one of {names}; got {describe(name)}{hint}")
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
