"""The `Trainer`: the epoch loop, and the loop's state in one object.

The data stays as contiguous tensors on the training device; one shuffled copy per epoch is
gathered into a reused buffer and mini-batches are views of it; the loss is summed on the
device and read once per epoch (no host synchronisation inside an epoch, but at a mid-epoch
state). The Trainer never prints: epoch rows and progress go to callbacks, files to a
`RunSink`.

Training control: the lr schedule (`schedule.py`) is stepped per epoch or per optimizer step;
`train.grad_clip` is applied inside the step; the model kept is the best epoch by the
monitored metric (`train.early_stopping.metric`, else `val_loss`; the last epoch without
validation rows), and early stopping ends the run after `patience` epochs without an
improvement of more than `min_delta`.

Its state — the data-order generator (as it was at the start of the epoch in progress) and
every global RNG (torch CPU and CUDA, numpy, python), epochs and steps done, the position
within an epoch and its batch losses so far, the best epoch so far and its metric, the early
stopping counters, the history, the grad scaler, the schedulers, and the model's and
optimizer's own state — is what `state_dict()` returns and `load_state_dict()` restores, so
a run continued from it takes the same steps, bit for bit, as one that never stopped. The
sink gets it (`save_state`) at the end of every epoch and, with `train.checkpoint_every: N`,
after every N-th optimizer step inside an epoch.

Under DDP (`setup.world`, `setup.shard`: see `distributed.py`) each rank runs this loop on its
own shard, in its own seeded order, taking its share of every global batch; the steps
all-reduce the gradients, the epoch's training loss is a global sum over a global count, and
the validation logits of all ranks are gathered before the metrics, so every rank takes the
same decisions (best epoch, early stopping, plateau) from the same numbers. The state holds
every rank's data order, RNGs and partial-epoch losses (`ranks`), and the world size it was
saved with: it resumes on that many processes only.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from sigmoidnet.artifact import Artifact
from sigmoidnet.config import VAL_METRICS
from sigmoidnet.engine import distributed as dist
from sigmoidnet.engine.precision import Precision
from sigmoidnet.engine.schedule import Schedule
from sigmoidnet.engine.setup import Setup
from sigmoidnet.engine.steps import (
    ShardedAutogradStep,
    ShardedStepFn,
    StepFn,
    choose_sharded_step,
    choose_step,
)
from sigmoidnet.errors import DivergenceError, UsageError
from sigmoidnet.evaluation import epoch_metrics
from sigmoidnet.model import predict_logits


class RunSink(Protocol):
    """Where the Trainer writes what it produces (the run directory, or nothing in tests)."""

    def log_epoch(self, row: dict[str, Any]) -> None: ...
    def save_model(self, artifact: Artifact) -> None: ...
    def save_state(self, state: dict[str, Any]) -> None: ...


class NullSink:
    """Keeps nothing (the Trainer does not even build its state for it)."""

    def log_epoch(self, row: dict[str, Any]) -> None:
        pass

    def save_model(self, artifact: Artifact) -> None:
        pass

    def save_state(self, state: dict[str, Any]) -> None:
        pass


@dataclass
class FitResult:
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best: dict[str, Any] = field(default_factory=dict)
    artifact: Artifact | None = None
    seconds: float = 0.0
    stop_reason: str = ""  # why training ended: "reached train.epochs (10)", "early stopping: ..."


def make_artifact(s: Setup, epoch: int, metrics: dict[str, Any]) -> Artifact:
    """A CPU copy of the model as it is now, with the data's fitted state."""
    model = copy.deepcopy(s.model).to("cpu").eval()
    return Artifact(
        model=model,
        config=s.cfg,
        feature_names=s.data.feature_names,
        label_names=s.data.label_names,
        # a number in decision.threshold (0.5 by default); a rule is tuned after training
        thresholds=[s.cfg.decision.threshold if not s.cfg.decision.tuned else 0.5]
        * len(s.data.label_names),
        threshold_sources=[
            "decision.threshold" if not s.cfg.decision.tuned else "0.5 (not tuned yet)"
        ]
        * len(s.data.label_names),
        preprocessor=s.data.preprocessor,
        heldout=None if s.data.heldout is None else s.data.heldout.to_dict(),
        epoch=epoch,
        metrics=metrics,
    )


SMALL_STEP_MACS = 2e6  # below this many multiply-adds per step, one CPU thread is faster


def _cpu_threads_for(s: Setup) -> int | None:
    """Tiny steps lose more to thread hand-offs than they gain (a 3x slow-down measured on a
    busy 2-core machine): train those on one thread. None = leave torch's default."""
    if s.device.type != "cpu":
        return None
    macs = sum(p.numel() for p in s.model.parameters()) * min(
        s.cfg.train.batch_size, s.x_train.shape[0]
    )
    return 1 if macs < SMALL_STEP_MACS else None


def _plain(value: Any) -> Any:
    """A copy of `value` in plain containers (an `OrderedDict` becomes a dict), its tensors
    detached and cloned."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return copy.deepcopy(value)


def _no_plain_step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:  # pragma: no cover
    raise AssertionError("a DDP rank takes Trainer.sharded_step")


def _fmt(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "n/a"


class Trainer:
    """Trains `setup.model` for `train.epochs` (or until early stopping), keeping the model
    of the best epoch by the monitored metric (the last one without validation). A
    non-finite training loss stops with `DivergenceError`, after the last good model and
    state have been saved and before anything of the diverged epoch is."""

    def __init__(self, setup: Setup) -> None:
        s = self.setup = setup
        cfg = s.cfg
        self.world = s.world
        # the data order, epoch after epoch (each rank of a DDP run its own)
        seed = (cfg.seed + 1_000_003 * self.world.rank) % 2**63 if self.world.active else cfg.seed
        self.gen = torch.Generator().manual_seed(seed)
        self.precision = Precision(cfg.train.precision, s.device)
        n, bs = s.x_train.shape[0], cfg.train.batch_size
        self.steps_per_epoch = s.shard.steps if s.shard is not None else math.ceil(n / bs)
        # made before the step: a scheduler wraps optimizer.step, which the step may hold
        self.schedule = Schedule(cfg.train, s.optimizer, self.steps_per_epoch)
        self.sharded_step: ShardedStepFn | None = None
        self.step: StepFn = self._choose_step()
        self.epoch = 0  # epochs completed
        self.global_step = 0  # optimizer steps taken
        self.step_in_epoch = 0  # steps done in the epoch in progress (a mid-epoch state)
        es = cfg.train.early_stopping
        #: the metric that picks the model kept, and whether it is better lower or higher
        self.monitor = es.metric if es is not None else "val_loss"
        self.maximize = VAL_METRICS.get(self.monitor) == "max"
        worst = -math.inf if self.maximize else math.inf
        self.best_epoch: int | None = None
        self.best_value = worst  # the monitored metric of the best epoch so far
        self.best: dict[str, Any] = {}
        self.es_value = worst  # early stopping: the value `patience` counts from
        self.es_bad_epochs = 0  # epochs in a row without an improvement of min_delta
        self.stopped_early: str | None = None  # the stop reason, once early stopping fired
        self.history: list[dict[str, Any]] = []
        self._buf_x: torch.Tensor | None = None
        self._buf_y: torch.Tensor | None = None
        self._epoch_order = self.gen.get_state()  # the data order at the epoch's start
        self._epoch_losses: torch.Tensor | None = None  # the batch losses of a partial epoch
        self._epoch_lr = self.schedule.lr  # the lr of the epoch's last step

    @property
    def partial_epoch(self) -> bool:
        """Inside an epoch (a mid-epoch state was loaded or saved)."""
        return self.step_in_epoch > 0 and self._epoch_losses is not None

    def _choose_step(self) -> StepFn:
        s = self.setup
        m, t = s.cfg.model, s.cfg.train
        if s.shard is not None:
            # DDP's wrapper is made once (its hooks stay on the parameters); the hand-derived
            # step again after a load (it holds views of the optimizer's state)
            if not isinstance(self.sharded_step, ShardedAutogradStep):
                self.sharded_step = choose_sharded_step(
                    s.model,
                    s.loss_fn,
                    s.optimizer,
                    self.precision,
                    activation=m.activation,
                    dropout=m.dropout,
                    precision_name=t.precision,
                    world_size=self.world.size,
                    device=s.device,
                    allow_manual=s.allow_manual,
                    grad_clip=t.grad_clip,
                )
            return _no_plain_step
        return choose_step(
            s.model,
            s.loss_fn,
            s.optimizer,
            self.precision,
            activation=m.activation,
            dropout=m.dropout,
            precision_name=t.precision,
            allow_manual=s.allow_manual,
            grad_clip=t.grad_clip,
        )

    # -- state -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The loop's whole state: tensors, numpy arrays, numbers, strings, booleans, None,
        and lists/tuples/dicts of those (no other objects); copies, safe to keep. Between
        two epochs `step_in_epoch` is 0 and `data_order` is the next epoch's; inside one,
        `data_order` is the generator as that epoch started (its order is drawn again on
        resume) and `epoch_losses` the losses of its `step_in_epoch` batches."""
        scaler = self.precision.scaler
        partial = self.step_in_epoch > 0 and self._epoch_losses is not None
        losses = (
            self._epoch_losses.detach().to("cpu", copy=True)
            if partial and self._epoch_losses is not None
            else torch.empty(0)
        )
        state = {
            "epoch": self.epoch,
            "global_step": self.global_step,
            "step_in_epoch": self.step_in_epoch if partial else 0,
            "epoch_losses": losses,
            "train_epochs": self.setup.cfg.train.epochs,
            "train_lr": self.setup.cfg.train.lr,
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "best": _plain(self.best),
            "monitor": self.monitor,
            "early_stopping": {
                "value": self.es_value,
                "bad_epochs": self.es_bad_epochs,
                "stopped": self.stopped_early,
            },
            "history": _plain(self.history),
            "data_order": (self._epoch_order if partial else self.gen.get_state()).clone(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "numpy_rng": _plain(np.random.get_state()),
            "python_rng": random.getstate(),
            "scaler": None if scaler is None else _plain(scaler.state_dict()),
            "schedule": _plain(self.schedule.state_dict()),
            "model": _plain(self.setup.model.state_dict()),
            "optimizer": _plain(self.setup.optimizer.state_dict()),
        }
        if self.world.active:  # every rank's own streams (a collective: all ranks call it)
            own = ("data_order", "torch_rng", "cuda_rng", "numpy_rng", "python_rng")
            mine = {k: state[k] for k in own} | {"epoch_losses": losses}
            state["world_size"] = self.world.size
            state["ranks"] = dist.gather_objects(mine, self.world)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state` (of a run of the same config, `train.epochs` aside: a larger
        one extends the run; an early-stopped run extended gets its patience back — its
        counter starts again at 0 — keeping its best epoch and value)."""
        s = self.setup
        t = s.cfg.train
        saved_world = int(state.get("world_size", 1))
        if saved_world != self.world.size:
            raise UsageError(
                "--nproc",
                f"this run was trained on {dist.processes(saved_world)}; resume it on "
                f"{'one' if saved_world == 1 else saved_world} too ("
                + ("without --nproc" if saved_world == 1 else f"--nproc {saved_world}")
                + "): the data shards and random streams are per process",
            )
        if self.world.active:
            state = {**state, **state["ranks"][self.world.rank]}
        s.model.load_state_dict(state["model"])
        s.optimizer.load_state_dict(state["optimizer"])
        if state.get("schedule") is not None:
            self.schedule.load_state_dict(state["schedule"])  # raises for a onecycle extended
        saved_lr = state.get("train_lr")
        if saved_lr is not None and float(saved_lr) != t.lr:  # a resume after a divergence
            self.schedule.rescale(t.lr / float(saved_lr))
        if self.precision.scaler is not None and state.get("scaler") is not None:
            self.precision.scaler.load_state_dict(state["scaler"])
        self.gen.set_state(state["data_order"])
        self._epoch_order = self.gen.get_state()
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        if state.get("numpy_rng") is not None:
            np.random.set_state(state["numpy_rng"])
        if state.get("python_rng") is not None:
            random.setstate(state["python_rng"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.step_in_epoch = int(state.get("step_in_epoch", 0) or 0)
        losses = state.get("epoch_losses")
        self._epoch_losses = (
            losses.clone() if self.step_in_epoch and isinstance(losses, torch.Tensor) else None
        )
        if self._epoch_losses is None:
            self.step_in_epoch = 0
        self.best_epoch = None if state["best_epoch"] is None else int(state["best_epoch"])
        self.best_value = float(state["best_value"])
        self.best = copy.deepcopy(state["best"])
        es = state.get("early_stopping") or {}
        self.es_value = float(es.get("value", self.es_value))
        self.es_bad_epochs = int(es.get("bad_epochs", 0))
        self.stopped_early = es.get("stopped")
        saved_epochs = int(state.get("train_epochs", t.epochs))
        if self.stopped_early is not None and t.epochs > saved_epochs:
            self.stopped_early = None  # extended: the patience starts again
            self.es_bad_epochs = 0
        self.history = copy.deepcopy(state["history"])
        # the step holds views of the optimizer's state tensors, replaced by the load above
        self.step = self._choose_step()

    # -- one epoch ---------------------------------------------------------------------------

    def train_epoch(
        self,
        on_progress: Callable[[int, int], None] | None = None,
        sink: RunSink | None = None,
    ) -> torch.Tensor:
        """One pass over the training rows in a fresh seeded order (or the rest of one, from
        a mid-epoch state); returns the mean loss as a 0-d tensor on the device (read by the
        caller once per epoch). With a `sink` and `train.checkpoint_every: N`, the state goes
        to `sink.save_state` after every N-th optimizer step but the epoch's last (whose
        state is the epoch end's)."""
        if self.setup.shard is not None:
            return self._train_shard_epoch(on_progress, sink)
        s = self.setup
        s.model.train()
        x, y = s.x_train, s.y_train
        n, bs = x.shape[0], s.cfg.train.batch_size
        self._epoch_order = self.gen.get_state()  # a resume draws this epoch's order again
        if bs < n:  # one shuffled copy per epoch into a reused buffer; batches are views of it
            x, y = self._shuffled(x, y)
        n_batches = math.ceil(n / bs)
        losses = torch.empty(n_batches, device=s.device)
        start = min(self.step_in_epoch, n_batches)  # > 0: resumed inside this epoch
        if start and self._epoch_losses is not None:
            losses[:start] = self._epoch_losses.to(losses.device)
        step = self.step
        schedule = self.schedule if self.schedule.per_step else None
        group = s.optimizer.param_groups[0]
        every = s.cfg.train.checkpoint_steps if sink is not None else 0
        report_every = max(1, n_batches // 100)
        dev = s.device
        gs = self.global_step
        self._epoch_lr = float(group["lr"])
        for i in range(start, n_batches):
            xb, yb = x[i * bs : (i + 1) * bs], y[i * bs : (i + 1) * bs]
            if not s.on_device:
                xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            if schedule is not None:
                self._epoch_lr = float(group["lr"])  # the lr this step uses
            losses[i] = step(xb, yb)
            gs += 1
            if schedule is not None:
                schedule.after_step()
            if every and gs % every == 0 and i + 1 < n_batches and sink is not None:
                self.global_step, self.step_in_epoch = gs, i + 1
                self._epoch_losses = losses[: i + 1]
                self._check_finite(losses[: i + 1], gs)  # a diverged state is never saved
                sink.save_state(self.state_dict())
            if on_progress is not None and (i + 1) % report_every == 0:
                on_progress(min((i + 1) * bs, n), n)
        self.global_step = gs
        self.step_in_epoch = 0
        self._epoch_losses = None
        # the last batch may be short: weight each batch loss by its rows
        if n % bs:
            weights = torch.full((n_batches,), float(bs), device=s.device)
            weights[-1] = n % bs
            return (losses * weights).sum() / n
        return losses.mean()

    def _shuffled(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) in this epoch's seeded order, gathered into the reused buffers."""
        s = self.setup
        perm = torch.randperm(x.shape[0], generator=self.gen).to(x.device, non_blocking=True)
        if self._buf_x is None or self._buf_y is None:
            pin = not s.on_device  # batches are copied to the GPU from here: pin the buffer
            self._buf_x = torch.empty(x.shape, dtype=x.dtype, device=x.device, pin_memory=pin)
            self._buf_y = torch.empty(y.shape, dtype=y.dtype, device=y.device, pin_memory=pin)
        torch.index_select(x, 0, perm, out=self._buf_x)
        torch.index_select(y, 0, perm, out=self._buf_y)
        return self._buf_x, self._buf_y

    def _train_shard_epoch(
        self,
        on_progress: Callable[[int, int], None] | None,
        sink: RunSink | None,
    ) -> torch.Tensor:
        """`train_epoch` on one rank of a DDP run: this rank's shard in its own seeded
        order, its share of each global batch per step (`Shard.step_rows`); returns the mean
        loss over all ranks' rows (an all-reduced sum over the global count)."""
        s = self.setup
        sh = s.shard
        assert sh is not None and self.sharded_step is not None
        s.model.train()
        self._epoch_order = self.gen.get_state()  # a resume draws this epoch's order again
        x, y = self._shuffled(s.x_train, s.y_train)
        n_steps = sh.steps
        losses = torch.zeros(n_steps, device=s.device)  # this rank's loss sums
        start = min(self.step_in_epoch, n_steps)
        if start and self._epoch_losses is not None:
            losses[:start] = self._epoch_losses.to(losses.device)
        step = self.sharded_step
        schedule = self.schedule if self.schedule.per_step else None
        group = s.optimizer.param_groups[0]
        every = s.cfg.train.checkpoint_steps if sink is not None else 0
        report_every = max(1, n_steps // 100)
        dev = s.device
        gs = self.global_step
        self._epoch_lr = float(group["lr"])
        pos = start * sh.local_batch  # this rank's rows taken by the steps before `start`
        for i in range(start, n_steps):
            b, rows = sh.step_rows(i)
            xb, yb = x[pos : pos + b], y[pos : pos + b]
            pos += b
            if not s.on_device:
                xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            if schedule is not None:
                self._epoch_lr = float(group["lr"])
            losses[i] = step(xb, yb, rows)
            gs += 1
            if schedule is not None:
                schedule.after_step()
            if every and gs % every == 0 and i + 1 < n_steps and sink is not None:
                self.global_step, self.step_in_epoch = gs, i + 1
                self._epoch_losses = losses[: i + 1]
                self._check_finite(dist.all_reduce_sum(losses[: i + 1].sum()), gs)
                sink.save_state(self.state_dict())
            if on_progress is not None and (i + 1) % report_every == 0:
                on_progress(min((i + 1) * sh.batch, sh.rows), sh.rows)
        self.global_step = gs
        self.step_in_epoch = 0
        self._epoch_losses = None
        total = dist.all_reduce_sum(losses.sum())
        return total / (sh.rows * s.y_train.shape[1])

    def _weights_finite(self, extra: torch.Tensor | None = None) -> bool:
        """One host sync: every weight (and every value of `extra`) is finite."""
        checks = [torch.isfinite(p).all() for p in self.setup.model.parameters()]
        if extra is not None:
            checks.append(torch.isfinite(extra).all())
        return bool(torch.stack(checks).all()) if checks else True

    def _check_finite(self, losses: torch.Tensor, global_step: int) -> None:
        if not self._weights_finite(losses):
            raise self._diverged(
                self.epoch + 1,
                f"the training loss or the weights are not finite by step {global_step}",
            )

    # -- the loop ----------------------------------------------------------------------------

    def fit(
        self,
        sink: RunSink | None = None,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> FitResult:
        """Train from the current state up to `train.epochs`, or until early stopping."""
        threads = _cpu_threads_for(self.setup)
        previous = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            return self._fit(sink, on_epoch, on_progress)
        finally:
            torch.set_num_threads(previous)

    def validation_logits(self, model: torch.nn.Module) -> torch.Tensor:
        """`model`'s logits of every validation row, in file order (under DDP: each rank's
        shard predicted once, and gathered on every rank)."""
        s = self.setup
        assert s.x_val is not None
        logits = predict_logits(model, s.x_val, s.device)
        if s.val_counts is None:
            return logits
        return dist.gather_rows(logits, s.val_counts)

    def _diverged(self, epoch: int, what: str) -> DivergenceError:
        kept = (
            f"kept the model of epoch {self.best_epoch}"
            if self.best_epoch
            else "no model was saved"
        )
        return DivergenceError(f"epoch {epoch}", f"{what}; stopped ({kept})")

    def _improves(self, value: float, than: float, by: float = 0.0) -> bool:
        return value > than + by if self.maximize else value < than - by

    def _judge(self, row: dict[str, Any]) -> bool:
        """Update the best epoch and the early-stopping counters with this epoch's row;
        True when its model is the best so far (to be saved)."""
        epoch = row["epoch"]
        value = row.get(self.monitor)
        if self.monitor not in row:  # no validation rows: the last epoch is the model kept
            improved = True
        elif value is None or not math.isfinite(value):  # n/a (one class): keep the first
            improved = self.best_epoch is None
        else:
            improved = self._improves(value, self.best_value)
            if improved:
                self.best_value = value
        if improved:
            self.best_epoch = epoch
            self.best = row
        es = self.setup.cfg.train.early_stopping
        if es is not None:
            if (
                value is not None
                and math.isfinite(value)
                and self._improves(value, self.es_value, es.min_delta)
            ):
                self.es_value = value
                self.es_bad_epochs = 0
            else:
                self.es_bad_epochs += 1
            if self.es_bad_epochs >= es.patience:
                self.stopped_early = (
                    f"early stopping: {es.metric} did not improve by {es.min_delta} for "
                    f"{es.patience} epochs (best {_fmt(self.best_value)} at epoch "
                    f"{self.best_epoch})"
                )
        return improved

    def _fit(
        self,
        sink: RunSink | None,
        on_epoch: Callable[[dict[str, Any]], None] | None,
        on_progress: Callable[[int, int], None] | None,
    ) -> FitResult:
        s = self.setup
        # a NullSink keeps nothing: the state is not even built for it
        keeps = sink is not None and not isinstance(sink, NullSink)
        out: RunSink = sink if sink is not None else NullSink()
        result = FitResult()
        started = time.perf_counter()
        # rows of every rank together (rows/s is the job's)
        n_train = s.shard.rows if s.shard is not None else s.x_train.shape[0]
        epochs = s.cfg.train.epochs
        bs = s.cfg.train.batch_size
        epoch = self.epoch + 1
        while self.stopped_early is None and epoch <= epochs:
            t0 = time.perf_counter()
            rows = n_train - min(self.step_in_epoch * bs, n_train)  # rows trained here
            loss_t = self.train_epoch(on_progress, out if keeps else None)
            train_loss = float(loss_t)  # the one host sync of the epoch
            train_seconds = time.perf_counter() - t0
            row: dict[str, Any] = {"epoch": epoch, "train_loss": train_loss}
            if not math.isfinite(train_loss):
                raise self._diverged(epoch, f"training loss is {train_loss}")
            if s.x_val is not None and s.y_val is not None and s.y_val.shape[0] > 0:
                logits = self.validation_logits(s.model)
                yv = s.y_val.to(logits.device)
                row.update(epoch_metrics(logits, yv))
                if not math.isfinite(row["val_loss"]):
                    raise self._diverged(
                        epoch,
                        f"validation loss is {row['val_loss']} (the model's output on some "
                        "held-out rows is not finite)",
                    )
            elif not self._weights_finite():
                raise self._diverged(epoch, "the model's weights are not finite")
            row["lr"] = self._epoch_lr
            seconds = time.perf_counter() - t0
            row["seconds"] = round(seconds, 6)
            row["rows_per_s"] = round(rows / train_seconds, 1) if train_seconds > 0 else None
            self.history.append(row)
            self.epoch = epoch
            out.log_epoch(row)
            if self._judge(row):
                result.artifact = make_artifact(s, epoch, row)
                out.save_model(result.artifact)
            self.schedule.after_epoch(epoch, row)
            if keeps:
                out.save_state(self.state_dict())
            if on_epoch is not None:
                on_epoch(row)
            epoch += 1
        result.history = list(self.history)
        result.best_epoch = self.best_epoch
        result.best = self.best
        result.seconds = time.perf_counter() - started
        result.stop_reason = self.stopped_early or f"reached train.epochs ({epochs})"
        return result


def fit(
    s: Setup,
    sink: RunSink | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> FitResult:
    """`Trainer(s).fit(...)`: train a fresh setup for `train.epochs`."""
    return Trainer(s).fit(sink, on_epoch, on_progress)
