"""The training recipe: `prepare` (data, model, optimizer) → `fit` (the epoch loop).

The engine keeps the data as contiguous tensors on the training device, gathers one
shuffled copy per epoch into a reused buffer, cuts mini-batches as views, sums the loss on
the device and reads it once per epoch (no host synchronisation inside an epoch). It never
prints: progress and epoch rows go to callbacks, files to a `RunSink`.
"""

from __future__ import annotations

import copy
import importlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from sigmoidnet.artifact import Artifact
from sigmoidnet.config import Config
from sigmoidnet.data import Dataset, load_dataset
from sigmoidnet.errors import DataError, DivergenceError, UsageError
from sigmoidnet.evaluation import epoch_metrics
from sigmoidnet.model import MLP, predict_logits


class RunSink(Protocol):
    """Where `fit` writes what it produces (the run directory, or nothing in tests)."""

    def log_epoch(self, row: dict[str, Any]) -> None: ...
    def save_model(self, artifact: Artifact) -> None: ...


class NullSink:
    def log_epoch(self, row: dict[str, Any]) -> None:
        pass

    def save_model(self, artifact: Artifact) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# setup


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """`auto` → cuda if available, else mps, else cpu; an unavailable device is exit 2."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError("device", f"'{name}' requested but CUDA is not available here")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise UsageError(
                "device", f"'{name}' requested but only {torch.cuda.device_count()} GPU(s) exist"
            )
        return torch.device(name)
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UsageError("device", "'mps' requested but MPS is not available here")
        return torch.device("mps")
    return torch.device("cpu")


def make_optimizer(model: nn.Module, cfg: Config, device: torch.device) -> torch.optim.Optimizer:
    t = cfg.train
    params = model.parameters()
    # fused kernels: one op per step for all parameters (CPU and CUDA)
    fused = device.type in ("cpu", "cuda")
    if t.optimizer == "adam":
        return torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay, fused=fused)
    if t.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay, fused=fused)
    return torch.optim.SGD(
        params, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay, fused=fused
    )


_optimizer_module = importlib.import_module("torch.optim.optimizer")  # global step hooks


class _DirectAdam:
    """`optimizer.step()` for fused Adam/AdamW without `Optimizer.step`'s per-call Python
    work (hooks, grouping tensors by device, state checks: about a fifth of a small MLP's
    step on CPU). It calls the same two ops `torch.optim.Adam(fused=True)` calls, on the
    optimizer's own state tensors, so the update is bit for bit the same and the
    optimizer's state stays its own (a test compares the two). The first call goes through
    `optimizer.step()`, which creates that state.
    """

    def __init__(self, opt: torch.optim.Optimizer) -> None:
        self.opt = opt
        self.group = opt.param_groups[0]
        self.params: list[torch.Tensor] = list(self.group["params"])
        self.lists: tuple[list[torch.Tensor], ...] | None = None
        adamw = isinstance(opt, torch.optim.AdamW) or self.group.get("decoupled_weight_decay")
        self.kernel: Any = torch._fused_adamw_ if adamw else torch._fused_adam_

    @staticmethod
    def applies(opt: torch.optim.Optimizer) -> bool:
        if not isinstance(opt, torch.optim.Adam | torch.optim.AdamW) or len(opt.param_groups) != 1:
            return False
        g = opt.param_groups[0]
        return (
            bool(g.get("fused"))
            and not g.get("amsgrad")
            and not g.get("maximize")
            and not g.get("differentiable")
            and not g.get("capturable")
            and not isinstance(g.get("lr"), torch.Tensor)
            and not opt._optimizer_step_pre_hooks
            and not opt._optimizer_step_post_hooks
            and not getattr(_optimizer_module, "_global_optimizer_pre_hooks", None)
            and not getattr(_optimizer_module, "_global_optimizer_post_hooks", None)
            and hasattr(torch, "_fused_adam_")
            and hasattr(torch, "_fused_adamw_")
        )

    def step(self) -> None:
        if self.lists is None:
            self.opt.step()  # creates the state: exp_avg, exp_avg_sq, step
            if any(p.grad is None for p in self.params):
                return  # not all parameters have gradients: stay on optimizer.step()
            st = [self.opt.state[p] for p in self.params]
            self.lists = (
                [p.grad for p in self.params],  # type: ignore[misc]
                [x["exp_avg"] for x in st],
                [x["exp_avg_sq"] for x in st],
                [x["step"] for x in st],
            )
            return
        grads, exp_avgs, exp_avg_sqs, steps = self.lists
        g = self.group
        beta1, beta2 = g["betas"]
        torch._foreach_add_(steps, 1)
        self.kernel(
            self.params,
            grads,
            exp_avgs,
            exp_avg_sqs,
            [],
            steps,
            amsgrad=False,
            lr=g["lr"],
            beta1=beta1,
            beta2=beta2,
            weight_decay=g["weight_decay"],
            eps=g["eps"],
            maximize=False,
            grad_scale=None,
            found_inf=None,
        )


def pos_weight_tensor(cfg: Config, y_train: torch.Tensor) -> torch.Tensor | None:
    """`auto` = negatives/positives per label on the training split (1 where no positives)."""
    pw = cfg.train.pos_weight
    if pw is None:
        return None
    if pw == "auto":
        pos = y_train.sum(dim=0, dtype=torch.float64)
        neg = y_train.shape[0] - pos
        w = torch.where(pos > 0, neg / pos.clamp(min=1), torch.ones_like(pos))
        return w.to(torch.float32)
    if len(pw) != y_train.shape[1]:
        raise DataError(
            "train.pos_weight",
            f"{len(pw)} values given but the data has {y_train.shape[1]} label(s)",
        )
    return torch.tensor(pw, dtype=torch.float32)


@dataclass
class Setup:
    """Everything `fit` needs, all validated: nothing has been written yet."""

    cfg: Config
    device: torch.device
    data: Dataset
    model: MLP
    optimizer: torch.optim.Optimizer
    loss_fn: nn.BCEWithLogitsLoss
    x_train: torch.Tensor  # (N, F) on device (or pinned host memory when it does not fit)
    y_train: torch.Tensor  # (N, L)
    x_val: torch.Tensor | None
    y_val: torch.Tensor | None
    on_device: bool = True
    allow_manual: bool = True  # the hand-derived train step where it applies (else autograd)


def _fits_on_device(device: torch.device, nbytes: int) -> bool:
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    # room for the data, one shuffled copy of it, and the model's working memory
    return 2.5 * nbytes < free


def prepare(cfg: Config, device: str | None = None) -> Setup:
    """Seed, load and check the data, build the model and optimizer (the tutorial's order:
    seed → data → layers)."""
    dev = resolve_device(device or cfg.device)
    seed_everything(cfg.seed)
    data = load_dataset(cfg)
    n_features, n_labels = data.x_train.shape[1], data.y_train.shape[1]
    m = cfg.model
    model = MLP(n_features, m.hidden_sizes, n_labels, m.activation, m.dropout)
    model.to(dev)
    pw = pos_weight_tensor(cfg, data.y_train)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=None if pw is None else pw.to(dev))

    nbytes = data.x_train.nbytes + data.y_train.nbytes
    on_device = _fits_on_device(dev, nbytes)
    if on_device:
        x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)
    else:  # stream batches from pinned host memory
        x_train, y_train = data.x_train.pin_memory(), data.y_train.pin_memory()
    x_val = data.x_val.to(dev) if data.x_val is not None and on_device else data.x_val
    y_val = data.y_val.to(dev) if data.y_val is not None and on_device else data.y_val
    optimizer = make_optimizer(model, cfg, dev)
    return Setup(
        cfg, dev, data, model, optimizer, loss_fn, x_train, y_train, x_val, y_val, on_device
    )


# ---------------------------------------------------------------------------------------------
# one step, one epoch


class _Precision:
    """Autocast context and grad scaler for `train.precision` (fp32 = neither)."""

    def __init__(self, precision: str, device: torch.device) -> None:
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.device_type = device.type
        self.scaler = (
            torch.amp.GradScaler(device.type)
            if precision == "fp16" and device.type == "cuda"
            else None
        )

    def autocast(self) -> Any:
        if self.dtype is None:
            return _NULL_CTX
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)


class _NullCtx:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


_NULL_CTX = _NullCtx()


def train_step(s: Setup, xb: torch.Tensor, yb: torch.Tensor, prec: _Precision) -> torch.Tensor:
    """Forward, loss, backward, update; returns the detached batch loss (no sync)."""
    with prec.autocast():
        logits = s.model(xb)  # (B, L)
    loss = s.loss_fn(logits.float(), yb)
    s.optimizer.zero_grad(set_to_none=True)
    if prec.scaler is not None:
        prec.scaler.scale(loss).backward()
        prec.scaler.step(s.optimizer)
        prec.scaler.update()
    else:
        loss.backward()
        s.optimizer.step()
    detached: torch.Tensor = loss.detach()
    return detached


class _ManualStep:
    """The train step with hand-derived gradients for the common MLPs (fp32, no dropout,
    relu/tanh/sigmoid/leaky_relu): about half the kernel launches of autograd, and no
    graph to build or free. Mathematically the same update as `train_step`:
    d(mean BCEWithLogits)/dz = (σ(z)·(1 + (w−1)·y) − w·y) / (B·L) with w the pos_weight.
    """

    SUPPORTED: tuple[str, ...] = ("relu", "tanh", "sigmoid", "leaky_relu")

    def __init__(self, s: Setup) -> None:
        self.s = s
        self.linears = [m for m in s.model.net if isinstance(m, nn.Linear)]
        self.activation = s.cfg.model.activation
        self.slope = 0.01  # nn.LeakyReLU's default negative slope
        pw = s.loss_fn.pos_weight
        self.pos_weight = None if pw is None else pw.to(s.device)
        for lin in self.linears:  # gradients are written in place, never reallocated
            for p in (lin.weight, lin.bias):
                p.grad = torch.zeros_like(p)
        opt = s.optimizer
        self.optimizer_step = _DirectAdam(opt).step if _DirectAdam.applies(opt) else opt.step

    @classmethod
    def applies(cls, s: Setup) -> bool:
        m = s.cfg.model
        return (
            s.allow_manual
            and m.dropout == 0
            and m.activation in cls.SUPPORTED
            and s.cfg.train.precision == "fp32"
        )

    def _act_(self, h: torch.Tensor) -> torch.Tensor:
        a = self.activation
        if a == "relu":
            return h.relu_()
        if a == "tanh":
            return h.tanh_()
        if a == "sigmoid":
            return h.sigmoid_()
        return torch.nn.functional.leaky_relu_(h, self.slope)

    def _act_backward_(self, g: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        # the derivative written in terms of the activation's output `out`
        a = self.activation
        if a == "relu":
            return torch.ops.aten.threshold_backward(g, out, 0.0)  # type: ignore[no-any-return]
        if a == "tanh":
            return g.mul_(1.0 - out * out)
        if a == "sigmoid":
            return g.mul_(out * (1.0 - out))
        return torch.where(out > 0, g, g * self.slope)

    @torch.no_grad()
    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        lins = self.linears
        acts = [xb]  # inputs of each Linear: (B, in_i)
        h = xb
        for lin in lins[:-1]:
            h = self._act_(torch.addmm(lin.bias, h, lin.weight.t()))
            acts.append(h)
        z = torch.addmm(lins[-1].bias, h, lins[-1].weight.t())  # (B, L) logits
        pw = self.pos_weight
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, yb, pos_weight=pw)
        g = torch.sigmoid(z)
        if pw is None:
            g.sub_(yb)
        else:
            g.mul_(1.0 + (pw - 1.0) * yb).sub_(pw * yb)
        g.mul_(1.0 / z.numel())
        for i in range(len(lins) - 1, -1, -1):
            lin = lins[i]
            assert lin.weight.grad is not None and lin.bias.grad is not None
            torch.mm(g.t(), acts[i], out=lin.weight.grad)
            torch.sum(g, 0, out=lin.bias.grad)
            if i > 0:
                g = self._act_backward_(torch.mm(g, lin.weight), acts[i])
        self.optimizer_step()
        return loss


@dataclass
class _EpochState:
    gen: torch.Generator
    manual: _ManualStep | None = None
    buf_x: torch.Tensor | None = None
    buf_y: torch.Tensor | None = None


def train_epoch(
    s: Setup,
    state: _EpochState,
    prec: _Precision,
    on_progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """One pass over the training rows in a fresh seeded order; returns the mean loss as a
    0-d tensor on the device (read by the caller once per epoch)."""
    s.model.train()
    x, y = s.x_train, s.y_train
    n, bs = x.shape[0], s.cfg.train.batch_size
    if bs < n:  # one shuffled copy per epoch into a reused buffer; batches are views of it
        perm = torch.randperm(n, generator=state.gen).to(x.device, non_blocking=True)
        if state.buf_x is None or state.buf_y is None:
            pin = not s.on_device  # batches are copied to the GPU from here: pin the buffer
            state.buf_x = torch.empty(x.shape, dtype=x.dtype, device=x.device, pin_memory=pin)
            state.buf_y = torch.empty(y.shape, dtype=y.dtype, device=y.device, pin_memory=pin)
        torch.index_select(x, 0, perm, out=state.buf_x)
        torch.index_select(y, 0, perm, out=state.buf_y)
        x, y = state.buf_x, state.buf_y
    n_batches = math.ceil(n / bs)
    losses = torch.empty(n_batches, device=s.device)
    step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = (
        state.manual if state.manual is not None else lambda a, b: train_step(s, a, b, prec)
    )
    report_every = max(1, n_batches // 100)
    dev = s.device
    for i in range(n_batches):
        xb, yb = x[i * bs : (i + 1) * bs], y[i * bs : (i + 1) * bs]
        if not s.on_device:
            xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
        losses[i] = step(xb, yb)
        if on_progress is not None and (i + 1) % report_every == 0:
            on_progress(min((i + 1) * bs, n), n)
    # the last batch may be short: weight each batch loss by its rows
    if n % bs:
        weights = torch.full((n_batches,), float(bs), device=s.device)
        weights[-1] = n % bs
        return (losses * weights).sum() / n
    return losses.mean()


# ---------------------------------------------------------------------------------------------
# the loop


@dataclass
class FitResult:
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best: dict[str, Any] = field(default_factory=dict)
    artifact: Artifact | None = None
    seconds: float = 0.0


def make_artifact(s: Setup, epoch: int, metrics: dict[str, Any]) -> Artifact:
    model = copy.deepcopy(s.model).to("cpu").eval()
    return Artifact(
        model=model,
        config=s.cfg,
        feature_names=s.data.feature_names,
        label_names=s.data.label_names,
        thresholds=[0.5] * len(s.data.label_names),
        mean=s.data.mean,
        std=s.data.std,
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


def fit(
    s: Setup,
    sink: RunSink | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> FitResult:
    """Train for `train.epochs`; keep the model with the best validation loss (the last
    without validation). A non-finite training loss stops with `DivergenceError` after the
    last good model has been saved."""
    threads = _cpu_threads_for(s)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _fit(s, sink or NullSink(), on_epoch, on_progress)
    finally:
        torch.set_num_threads(previous)


def _fit(
    s: Setup,
    sink: RunSink,
    on_epoch: Callable[[dict[str, Any]], None] | None,
    on_progress: Callable[[int, int], None] | None,
) -> FitResult:
    cfg = s.cfg
    gen = torch.Generator().manual_seed(cfg.seed)
    state = _EpochState(gen, _ManualStep(s) if _ManualStep.applies(s) else None)
    prec = _Precision(cfg.train.precision, s.device)
    result = FitResult()
    best_val = math.inf
    started = time.perf_counter()
    n_train = s.x_train.shape[0]
    for epoch in range(1, cfg.train.epochs + 1):
        t0 = time.perf_counter()
        loss_t = train_epoch(s, state, prec, on_progress)
        train_loss = float(loss_t)  # the one host sync of the epoch
        train_seconds = time.perf_counter() - t0
        row: dict[str, Any] = {"epoch": epoch, "train_loss": train_loss}
        if not math.isfinite(train_loss):
            kept = (
                f"kept the model of epoch {result.best_epoch}"
                if result.best_epoch
                else ("no model was saved")
            )
            raise DivergenceError(
                f"epoch {epoch}", f"training loss is {train_loss}; stopped ({kept})"
            )
        if s.x_val is not None and s.y_val is not None and s.x_val.shape[0] > 0:
            logits = predict_logits(s.model, s.x_val, s.device)
            yv = s.y_val.to(logits.device)
            row.update(epoch_metrics(logits, yv))
        seconds = time.perf_counter() - t0
        row["seconds"] = round(seconds, 6)
        row["rows_per_s"] = round(n_train / train_seconds, 1) if train_seconds > 0 else None
        result.history.append(row)
        sink.log_epoch(row)
        val_loss = row.get("val_loss")
        improved = val_loss is None or (math.isfinite(val_loss) and val_loss < best_val)
        if improved:
            if val_loss is not None:
                best_val = val_loss
            result.best_epoch = epoch
            result.best = row
            result.artifact = make_artifact(s, epoch, row)
            sink.save_model(result.artifact)
        if on_epoch is not None:
            on_epoch(row)
    result.seconds = time.perf_counter() - started
    return result
