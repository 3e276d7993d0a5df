"""The `Trainer`: the epoch loop, and the loop's state in one object.

The data stays as contiguous tensors on the training device; one shuffled copy per epoch is
gathered into a reused buffer and mini-batches are views of it; the loss is summed on the
device and read once per epoch (no host synchronisation inside an epoch). The Trainer never
prints: epoch rows and progress go to callbacks, files to a `RunSink`.

Its state — the data-order generator and every global RNG (torch CPU and CUDA, numpy,
python), epochs and steps done, the best epoch so far and its
metric, the history, the grad scaler, and the model's and optimizer's own state — is what
`state_dict()` returns and `load_state_dict()` restores, so a run continued from it takes the
same steps as one that never stopped.
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
from sigmoidnet.engine.precision import Precision
from sigmoidnet.engine.setup import Setup
from sigmoidnet.engine.steps import StepFn, choose_step
from sigmoidnet.errors import DivergenceError
from sigmoidnet.evaluation import epoch_metrics
from sigmoidnet.model import predict_logits


class RunSink(Protocol):
    """Where the Trainer writes what it produces (the run directory, or nothing in tests)."""

    def log_epoch(self, row: dict[str, Any]) -> None: ...
    def save_model(self, artifact: Artifact) -> None: ...


class NullSink:
    def log_epoch(self, row: dict[str, Any]) -> None:
        pass

    def save_model(self, artifact: Artifact) -> None:
        pass


@dataclass
class FitResult:
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best: dict[str, Any] = field(default_factory=dict)
    artifact: Artifact | None = None
    seconds: float = 0.0


def make_artifact(s: Setup, epoch: int, metrics: dict[str, Any]) -> Artifact:
    """A CPU copy of the model as it is now, with the data's fitted state."""
    model = copy.deepcopy(s.model).to("cpu").eval()
    return Artifact(
        model=model,
        config=s.cfg,
        feature_names=s.data.feature_names,
        label_names=s.data.label_names,
        thresholds=[0.5] * len(s.data.label_names),
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


class Trainer:
    """Trains `setup.model` for `train.epochs`, keeping the model with the best validation
    loss (the last one without validation). A non-finite training loss stops with
    `DivergenceError` after the last good model has been saved."""

    def __init__(self, setup: Setup) -> None:
        s = self.setup = setup
        cfg = s.cfg
        self.gen = torch.Generator().manual_seed(cfg.seed)  # the data order, epoch after epoch
        self.precision = Precision(cfg.train.precision, s.device)
        self.step: StepFn = self._choose_step()
        self.epoch = 0  # epochs completed
        self.global_step = 0  # optimizer steps taken
        self.best_epoch: int | None = None
        self.best_value = math.inf  # best validation loss so far
        self.best: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self._buf_x: torch.Tensor | None = None
        self._buf_y: torch.Tensor | None = None

    def _choose_step(self) -> StepFn:
        s = self.setup
        m, t = s.cfg.model, s.cfg.train
        return choose_step(
            s.model,
            s.loss_fn,
            s.optimizer,
            self.precision,
            activation=m.activation,
            dropout=m.dropout,
            precision_name=t.precision,
            allow_manual=s.allow_manual,
        )

    # -- state -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The loop's whole state (tensors and plain values; copies, safe to keep)."""
        scaler = self.precision.scaler
        return {
            "epoch": self.epoch,
            "global_step": self.global_step,
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "best": copy.deepcopy(self.best),
            "history": copy.deepcopy(self.history),
            "data_order": self.gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "numpy_rng": np.random.get_state(),
            "python_rng": random.getstate(),
            "scaler": None if scaler is None else scaler.state_dict(),
            "model": copy.deepcopy(self.setup.model.state_dict()),
            "optimizer": copy.deepcopy(self.setup.optimizer.state_dict()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        s = self.setup
        s.model.load_state_dict(state["model"])
        s.optimizer.load_state_dict(state["optimizer"])
        if self.precision.scaler is not None and state.get("scaler") is not None:
            self.precision.scaler.load_state_dict(state["scaler"])
        self.gen.set_state(state["data_order"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        if state.get("numpy_rng") is not None:
            np.random.set_state(state["numpy_rng"])
        if state.get("python_rng") is not None:
            random.setstate(state["python_rng"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.best_epoch = state["best_epoch"]
        self.best_value = float(state["best_value"])
        self.best = copy.deepcopy(state["best"])
        self.history = copy.deepcopy(state["history"])
        # the step holds views of the optimizer's state tensors, replaced by the load above
        self.step = self._choose_step()

    # -- one epoch ---------------------------------------------------------------------------

    def train_epoch(self, on_progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """One pass over the training rows in a fresh seeded order; returns the mean loss as a
        0-d tensor on the device (read by the caller once per epoch)."""
        s = self.setup
        s.model.train()
        x, y = s.x_train, s.y_train
        n, bs = x.shape[0], s.cfg.train.batch_size
        if bs < n:  # one shuffled copy per epoch into a reused buffer; batches are views of it
            perm = torch.randperm(n, generator=self.gen).to(x.device, non_blocking=True)
            if self._buf_x is None or self._buf_y is None:
                pin = not s.on_device  # batches are copied to the GPU from here: pin the buffer
                self._buf_x = torch.empty(x.shape, dtype=x.dtype, device=x.device, pin_memory=pin)
                self._buf_y = torch.empty(y.shape, dtype=y.dtype, device=y.device, pin_memory=pin)
            torch.index_select(x, 0, perm, out=self._buf_x)
            torch.index_select(y, 0, perm, out=self._buf_y)
            x, y = self._buf_x, self._buf_y
        n_batches = math.ceil(n / bs)
        losses = torch.empty(n_batches, device=s.device)
        step = self.step
        report_every = max(1, n_batches // 100)
        dev = s.device
        for i in range(n_batches):
            xb, yb = x[i * bs : (i + 1) * bs], y[i * bs : (i + 1) * bs]
            if not s.on_device:
                xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            losses[i] = step(xb, yb)
            if on_progress is not None and (i + 1) % report_every == 0:
                on_progress(min((i + 1) * bs, n), n)
        self.global_step += n_batches
        # the last batch may be short: weight each batch loss by its rows
        if n % bs:
            weights = torch.full((n_batches,), float(bs), device=s.device)
            weights[-1] = n % bs
            return (losses * weights).sum() / n
        return losses.mean()

    # -- the loop ----------------------------------------------------------------------------

    def fit(
        self,
        sink: RunSink | None = None,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> FitResult:
        """Train from the current state up to `train.epochs`."""
        threads = _cpu_threads_for(self.setup)
        previous = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            return self._fit(sink or NullSink(), on_epoch, on_progress)
        finally:
            torch.set_num_threads(previous)

    def _diverged(self, epoch: int, what: str) -> DivergenceError:
        kept = (
            f"kept the model of epoch {self.best_epoch}"
            if self.best_epoch
            else "no model was saved"
        )
        return DivergenceError(f"epoch {epoch}", f"{what}; stopped ({kept})")

    def _fit(
        self,
        sink: RunSink,
        on_epoch: Callable[[dict[str, Any]], None] | None,
        on_progress: Callable[[int, int], None] | None,
    ) -> FitResult:
        s = self.setup
        result = FitResult()
        started = time.perf_counter()
        n_train = s.x_train.shape[0]
        for epoch in range(self.epoch + 1, s.cfg.train.epochs + 1):
            t0 = time.perf_counter()
            loss_t = self.train_epoch(on_progress)
            train_loss = float(loss_t)  # the one host sync of the epoch
            train_seconds = time.perf_counter() - t0
            row: dict[str, Any] = {"epoch": epoch, "train_loss": train_loss}
            if not math.isfinite(train_loss):
                raise self._diverged(epoch, f"training loss is {train_loss}")
            if s.x_val is not None and s.y_val is not None and s.x_val.shape[0] > 0:
                logits = predict_logits(s.model, s.x_val, s.device)
                yv = s.y_val.to(logits.device)
                row.update(epoch_metrics(logits, yv))
                if not math.isfinite(row["val_loss"]):
                    raise self._diverged(
                        epoch,
                        f"validation loss is {row['val_loss']} (the model's output on some "
                        "held-out rows is not finite)",
                    )
            seconds = time.perf_counter() - t0
            row["seconds"] = round(seconds, 6)
            row["rows_per_s"] = round(n_train / train_seconds, 1) if train_seconds > 0 else None
            self.history.append(row)
            self.epoch = epoch
            sink.log_epoch(row)
            val_loss = row.get("val_loss")
            improved = val_loss is None or (math.isfinite(val_loss) and val_loss < self.best_value)
            if improved:
                if val_loss is not None:
                    self.best_value = val_loss
                self.best_epoch = epoch
                self.best = row
                result.artifact = make_artifact(s, epoch, row)
                sink.save_model(result.artifact)
            if on_epoch is not None:
                on_epoch(row)
        result.history = list(self.history)
        result.best_epoch = self.best_epoch
        result.best = self.best
        result.seconds = time.perf_counter() - started
        return result


def fit(
    s: Setup,
    sink: RunSink | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> FitResult:
    """`Trainer(s).fit(...)`: train a fresh setup for `train.epochs`."""
    return Trainer(s).fit(sink, on_epoch, on_progress)
