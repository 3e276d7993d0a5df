"""`train.lr_schedule` and `train.warmup_epochs`, built on `torch.optim.lr_scheduler`.

| schedule      | torch scheduler                                       | stepped after  |
|---------------|-------------------------------------------------------|----------------|
| `constant`    | none: the lr stays `train.lr`                         |                |
| `cosine`      | `CosineAnnealingLR(t_max or epochs − warmup, eta_min)` | every epoch   |
| `step`        | `StepLR(step_size, gamma)`                            | every epoch    |
| `exponential` | `ExponentialLR(gamma)`                                | every epoch    |
| `plateau`     | `ReduceLROnPlateau` on a metric of the epoch row      | every epoch    |
| `onecycle`    | `OneCycleLR(total_steps = epochs × steps per epoch)`  | every step     |

Warmup (`warmup_epochs: W`) is a `LinearLR` from lr/(W+1) to lr over W epochs, stepped per
epoch (epoch k ≤ W trains at lr·k/(W+1)), chained before the schedule by `SequentialLR`
(for `plateau`, which `SequentialLR` cannot drive, the plateau counts only the epochs after
the warmup). `onecycle` warms up by itself (`pct_start`).

The schedule's state is the schedulers' own `state_dict()`s. Extending a finished run
(`train.epochs` raised): `cosine` with its default `t_max` re-targets what is left of the
annealing to end at the new last epoch (continuing from the current lr); `onecycle`, fixed to
its number of steps, cannot be extended (`ConfigError` naming `train.epochs`); the others
continue as they are.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.optim import lr_scheduler as sched

from sigmoidnet.config import (
    CosineSchedule,
    ExponentialSchedule,
    OneCycleSchedule,
    PlateauSchedule,
    StepSchedule,
    TrainConfig,
)
from sigmoidnet.errors import ConfigError

#: the lr-like entries of an optimizer's param group that schedulers set (rescaled together)
_GROUP_LRS = ("lr", "initial_lr", "max_lr", "min_lr")


class Schedule:
    """The lr schedule of a run on `optimizer`: `after_step()` after every optimizer step,
    `after_epoch(row)` after every epoch (its row, for `plateau`); nothing for `constant`."""

    def __init__(
        self, cfg: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int
    ) -> None:
        self.cfg = cfg
        self.optimizer = optimizer
        self.steps_per_epoch = steps_per_epoch
        spec = cfg.lr_schedule
        self.name = spec.name
        self.per_step = isinstance(spec, OneCycleSchedule)
        w = cfg.warmup_epochs
        self.warmup_epochs = w
        self.plateau: sched.ReduceLROnPlateau | None = None
        self.plateau_metric: str | None = None
        self.cosine: sched.CosineAnnealingLR | None = None
        # the schedulers stepped per epoch / per step, and every one whose state is saved
        self.epoch_stepped: sched.LRScheduler | None = None
        self.step_stepped: sched.LRScheduler | None = None
        self.saved: list[Any] = []
        main: sched.LRScheduler | None = None
        if isinstance(spec, OneCycleSchedule):
            self.step_stepped = sched.OneCycleLR(
                optimizer,
                max_lr=spec.max_lr if spec.max_lr is not None else cfg.lr,
                total_steps=self.total_steps(cfg.epochs),
                pct_start=spec.pct_start,
                anneal_strategy=spec.anneal_strategy,
                div_factor=spec.div_factor,
                final_div_factor=spec.final_div_factor,
                three_phase=spec.three_phase,
                cycle_momentum=spec.cycle_momentum,
            )
            self.saved = [self.step_stepped]
            return
        if isinstance(spec, PlateauSchedule):
            # made before the warmup: ReduceLROnPlateau leaves the lr as it finds it
            self.plateau = sched.ReduceLROnPlateau(
                optimizer,
                mode=spec.mode,
                factor=spec.factor,
                patience=spec.patience,
                threshold=spec.threshold,
                cooldown=spec.cooldown,
                min_lr=spec.min_lr,
            )
            self.plateau_metric = spec.metric
        elif isinstance(spec, CosineSchedule):
            t_max = spec.t_max if spec.t_max is not None else cfg.epochs - w
            main = self.cosine = sched.CosineAnnealingLR(
                optimizer, T_max=t_max, eta_min=spec.eta_min
            )
        elif isinstance(spec, StepSchedule):
            main = sched.StepLR(optimizer, step_size=spec.step_size, gamma=spec.gamma)
        elif isinstance(spec, ExponentialSchedule):
            main = sched.ExponentialLR(optimizer, gamma=spec.gamma)
        warmup = (
            sched.LinearLR(optimizer, start_factor=1.0 / (w + 1), end_factor=1.0, total_iters=w)
            if w
            else None
        )
        if warmup is not None and main is not None:
            self.epoch_stepped = sched.SequentialLR(optimizer, [warmup, main], milestones=[w])
        else:
            self.epoch_stepped = warmup or main
        self.saved = [s for s in (self.epoch_stepped, self.plateau) if s is not None]

    def total_steps(self, epochs: int) -> int:
        return max(1, epochs * self.steps_per_epoch)

    @property
    def lr(self) -> float:
        """The lr the next optimizer step uses."""
        return float(self.optimizer.param_groups[0]["lr"])

    def after_step(self) -> None:
        if self.step_stepped is not None:
            self.step_stepped.step()

    def after_epoch(self, epoch: int, row: dict[str, Any]) -> None:
        """After epoch `epoch` (1-based) and its row: the lr of the next epoch."""
        if self.epoch_stepped is not None:
            self.epoch_stepped.step()
        if self.plateau is not None and self.plateau_metric is not None:
            value = row.get(self.plateau_metric)
            # the warmup epochs and an n/a metric are not counted
            if epoch > self.warmup_epochs and value is not None and math.isfinite(value):
                self.plateau.step(value)

    # -- state --------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The schedulers' own states (plain values), and the epochs they were made for."""
        return {
            "name": self.name,
            "epochs": self.cfg.epochs,
            "schedulers": [s.state_dict() for s in self.saved],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the schedulers (after the optimizer, whose param groups hold the lr).
        A run extended (`train.epochs` raised): see the module's notes."""
        states = list(state.get("schedulers") or [])
        if state.get("name") != self.name or len(states) != len(self.saved):
            raise ConfigError(
                "train.lr_schedule",
                f"the saved state is of schedule {state.get('name')!r}, not {self.name!r}",
            )
        for s, st in zip(self.saved, states, strict=True):
            s.load_state_dict(st)
        saved_epochs = int(state.get("epochs", self.cfg.epochs))
        if saved_epochs == self.cfg.epochs:
            return
        if self.per_step:
            raise ConfigError(
                "train.epochs",
                f"a onecycle schedule is fixed to the run's {saved_epochs} epochs "
                f"({self.total_steps(saved_epochs)} steps) and cannot be changed to "
                f"{self.cfg.epochs}",
            )
        spec = self.cfg.lr_schedule
        if self.cosine is not None and isinstance(spec, CosineSchedule) and spec.t_max is None:
            self.cosine.T_max = self.cfg.epochs - self.warmup_epochs

    def rescale(self, ratio: float) -> None:
        """Multiply every lr of the schedule by `ratio` (a resume with a changed `train.lr`,
        after a divergence): the optimizer's and the schedulers' base and current lrs."""
        for group in self.optimizer.param_groups:
            for key in _GROUP_LRS:
                if isinstance(group.get(key), float | int):
                    group[key] = group[key] * ratio
        todo = list(self.saved)
        while todo:
            s = todo.pop()
            todo.extend(getattr(s, "_schedulers", []))
            for attr in ("base_lrs", "_last_lr"):
                values = getattr(s, attr, None)
                if isinstance(values, list):
                    setattr(s, attr, [v * ratio for v in values])
