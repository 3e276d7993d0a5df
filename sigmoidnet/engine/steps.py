"""The train steps and the one function that picks between them.

A step takes a batch (B, F) features and (B, L) targets on the training device, updates the
model and returns the detached batch loss (no host sync). `AutogradStep` works for every
model, precision and launch; `ManualStep` (hand-derived gradients) is faster where it applies.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from sigmoidnet.engine.manual_step import ManualStep
from sigmoidnet.engine.precision import Precision
from sigmoidnet.model import MLP

StepFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class AutogradStep:
    """Forward, loss, backward, (clip,) update through autograd (and DDP's hooks, when
    wrapped). `grad_clip`: `clip_grad_norm_` between backward and step (no host sync); with
    the fp16 grad scaler the gradients are unscaled first, so the true norm is clipped."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: nn.BCEWithLogitsLoss,
        optimizer: torch.optim.Optimizer,
        precision: Precision,
        grad_clip: float | None = None,
    ) -> None:
        self.model, self.loss_fn, self.optimizer, self.precision = (
            model,
            loss_fn,
            optimizer,
            precision,
        )
        self.grad_clip = grad_clip
        self.params = [p for p in model.parameters() if p.requires_grad]

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        with self.precision.autocast():
            logits = self.model(xb)  # (B, L)
        loss = self.loss_fn(logits.float(), yb)
        self.update(loss)
        detached: torch.Tensor = loss.detach()
        return detached

    def update(self, loss: torch.Tensor) -> None:
        """Backward from `loss`, (clip,) step."""
        prec = self.precision
        self.optimizer.zero_grad(set_to_none=True)
        clip = self.grad_clip
        if prec.scaler is not None:
            prec.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
            if clip is not None:
                prec.scaler.unscale_(self.optimizer)  # clip the true gradients
                torch.nn.utils.clip_grad_norm_(self.params, clip)
            prec.scaler.step(self.optimizer)
            prec.scaler.update()
        else:
            loss.backward()  # type: ignore[no-untyped-call]
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(self.params, clip)
            self.optimizer.step()


ShardedStepFn = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


class ShardedAutogradStep(AutogradStep):
    """The autograd step of one rank of a data-parallel run, through
    `DistributedDataParallel`: called with this rank's share of a global batch of
    `global_rows` rows, it backpropagates the share's part of the global mean loss (its sum
    over `global_rows`·L), scaled by the world size that DDP's gradient averaging divides by,
    so the all-reduced gradients are those of the global batch whatever the shares' sizes
    (the last batch's included, an empty share too). Returns the share's loss *sum*."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: nn.BCEWithLogitsLoss,
        optimizer: torch.optim.Optimizer,
        precision: Precision,
        grad_clip: float | None,
        world_size: int,
        device: torch.device,
    ) -> None:
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        ddp = DistributedDataParallel(model, device_ids=ids)
        super().__init__(ddp, loss_fn, optimizer, precision, grad_clip)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.world_size = world_size

    def __call__(  # type: ignore[override]
        self, xb: torch.Tensor, yb: torch.Tensor, global_rows: int
    ) -> torch.Tensor:
        with self.precision.autocast():
            logits = self.model(xb)  # (b, L)
        total = torch.nn.functional.binary_cross_entropy_with_logits(
            logits.float(), yb, pos_weight=self.loss_fn.pos_weight, reduction="sum"
        )
        self.update(total * (self.world_size / (global_rows * yb.shape[1])))
        detached: torch.Tensor = total.detach()
        return detached


class ShardedManualStep:
    """The hand-derived step of one rank of a data-parallel run: this rank's share of the
    global batch's gradients into one flat buffer, one all-reduce (sum) of it, then clip and
    update, as `ManualStep` does. Returns the share's loss *sum*."""

    def __init__(self, manual: ManualStep) -> None:
        assert manual.flat is not None, "a ManualStep made with flat_grads=True"
        self.manual = manual
        self.flat = manual.flat

    @torch.no_grad()
    def __call__(self, xb: torch.Tensor, yb: torch.Tensor, global_rows: int) -> torch.Tensor:
        loss = self.manual.gradients(xb, yb, mean_over=global_rows)
        torch.distributed.all_reduce(self.flat)
        self.manual.update()
        return loss


def choose_sharded_step(
    model: nn.Module,
    loss_fn: nn.BCEWithLogitsLoss,
    optimizer: torch.optim.Optimizer,
    precision: Precision,
    *,
    activation: str,
    dropout: float,
    precision_name: str,
    world_size: int,
    device: torch.device,
    allow_manual: bool = True,
    grad_clip: float | None = None,
) -> ShardedStepFn:
    """The step of one rank of a data-parallel run: the hand-derived step with its own
    all-reduce where it applies (the same cases as one process), else autograd under DDP."""
    if manual_applies(model, activation, dropout, precision_name, allow_manual, sharded=True):
        assert isinstance(model, MLP)
        manual = ManualStep(
            model, optimizer, activation, loss_fn.pos_weight, grad_clip, flat_grads=True
        )
        return ShardedManualStep(manual)
    return ShardedAutogradStep(model, loss_fn, optimizer, precision, grad_clip, world_size, device)


def distributed_world() -> int:
    """Processes in the current torch.distributed group (1 outside a distributed launch)."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return int(dist.get_world_size())
    return 1


def manual_applies(
    model: nn.Module,
    activation: str,
    dropout: float,
    precision: str,
    allow: bool = True,
    sharded: bool = False,
) -> bool:
    """Where the hand-derived step gives autograd's update: a bare MLP (not a DDP or other
    wrapper), fp32, no dropout, a supported activation; and either a single process or,
    `sharded`, the step that all-reduces its own flat gradient buffer (the plain one fires
    no autograd hooks, so DDP could not all-reduce its gradients)."""
    return (
        allow
        and type(model) is MLP
        and dropout == 0
        and activation in ManualStep.SUPPORTED
        and precision == "fp32"
        and (sharded or distributed_world() == 1)
    )


def choose_step(
    model: nn.Module,
    loss_fn: nn.BCEWithLogitsLoss,
    optimizer: torch.optim.Optimizer,
    precision: Precision,
    *,
    activation: str,
    dropout: float,
    precision_name: str,
    allow_manual: bool = True,
    grad_clip: float | None = None,
) -> StepFn:
    """The train step for this model and launch: `ManualStep` where it applies, else autograd.
    `grad_clip`, and any lr schedule (the steps read the optimizer's lr at every step), work
    in both: neither makes the hand-derived step fall back to autograd."""
    if manual_applies(model, activation, dropout, precision_name, allow_manual):
        assert isinstance(model, MLP)
        return ManualStep(model, optimizer, activation, loss_fn.pos_weight, grad_clip)
    return AutogradStep(model, loss_fn, optimizer, precision, grad_clip)
