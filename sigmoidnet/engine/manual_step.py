"""The train step with hand-derived gradients, for the common MLPs.

For fp32 MLPs without dropout and with relu/tanh/sigmoid/leaky_relu it does about half the
kernel launches of autograd and builds no graph; with `DirectAdam` it is the measured 1.94×
over a careful hand-written loop. Mathematically the same update as the autograd step:
d(mean BCEWithLogits)/dz = (σ(z)·(1 + (w−1)·y) − w·y) / (B·L), with w the pos_weight.

It runs under `torch.no_grad` and fires no autograd hooks, so DDP cannot all-reduce its
gradients: in a multi-process run `steps.ShardedManualStep` keeps every gradient in one flat
buffer (`flat_grads=True`) and all-reduces that buffer itself, once per step.

`train.grad_clip` clips the hand-derived gradients with the same `clip_grad_norm_` call the
autograd step makes, and lr schedules change the optimizer's param group, which both
`optimizer.step()` and `DirectAdam` read at every step: neither needs autograd.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from sigmoidnet.engine.direct_adam import DirectAdam
from sigmoidnet.model import MLP


class ManualStep:
    SUPPORTED: tuple[str, ...] = ("relu", "tanh", "sigmoid", "leaky_relu")

    def __init__(
        self,
        model: MLP,
        optimizer: torch.optim.Optimizer,
        activation: str,
        pos_weight: torch.Tensor | None,
        grad_clip: float | None = None,
        flat_grads: bool = False,
    ) -> None:
        if activation not in self.SUPPORTED:
            raise ValueError(f"ManualStep: unsupported activation {activation!r}")
        # the MLP itself, never a wrapper: its Linear layers in order
        self.linears = [m for m in model.net if isinstance(m, nn.Linear)]
        self.activation = activation
        self.slope = 0.01  # nn.LeakyReLU's default negative slope
        self.pos_weight = pos_weight
        self.grad_clip = grad_clip
        self.params: list[torch.Tensor] = [
            p for lin in self.linears for p in (lin.weight, lin.bias)
        ]
        #: every gradient as a view of one buffer (one all-reduce per step under DDP)
        self.flat: torch.Tensor | None = None
        if flat_grads:
            first = self.params[0]
            total = sum(p.numel() for p in self.params)
            self.flat = torch.zeros(total, dtype=first.dtype, device=first.device)
        offset = 0
        for p in self.params:  # gradients are written in place, never reallocated
            if self.flat is not None:
                p.grad = self.flat[offset : offset + p.numel()].view_as(p)
                offset += p.numel()
            else:
                p.grad = torch.zeros_like(p)
        self.optimizer_step: Callable[[], object] = (
            DirectAdam(optimizer).step if DirectAdam.applies(optimizer) else optimizer.step
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
        loss = self.gradients(xb, yb)
        self.update()
        return loss

    def update(self) -> None:
        """(Clip and) apply the gradients `gradients` wrote."""
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        self.optimizer_step()

    @torch.no_grad()
    def gradients(
        self, xb: torch.Tensor, yb: torch.Tensor, mean_over: int | None = None
    ) -> torch.Tensor:
        """Write d(loss)/d(params) into the `.grad`s and return the loss: the mean
        BCE-with-logits over the batch's B·L values; with `mean_over=N`, the loss and the
        gradients are those of the batch's share of a mean over N rows (its sum divided by
        N·L: a global batch split across processes), and the loss returned is the sum."""
        lins = self.linears
        acts = [xb]  # inputs of each Linear: (B, in_i)
        h = xb
        for lin in lins[:-1]:
            h = self._act_(torch.addmm(lin.bias, h, lin.weight.t()))
            acts.append(h)
        z = torch.addmm(lins[-1].bias, h, lins[-1].weight.t())  # (B, L) logits
        pw = self.pos_weight
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        if mean_over is None:
            loss = bce(z, yb, pos_weight=pw)
            denominator = z.numel()
        else:
            loss = bce(z, yb, pos_weight=pw, reduction="sum")
            denominator = mean_over * z.shape[1]
        g = torch.sigmoid(z)
        if pw is None:
            g.sub_(yb)
        else:
            g.mul_(1.0 + (pw - 1.0) * yb).sub_(pw * yb)
        g.mul_(1.0 / denominator)
        for i in range(len(lins) - 1, -1, -1):
            lin = lins[i]
            assert lin.weight.grad is not None and lin.bias.grad is not None
            torch.mm(g.t(), acts[i], out=lin.weight.grad)
            torch.sum(g, 0, out=lin.bias.grad)
            if i > 0:
                g = self._act_backward_(torch.mm(g, lin.weight), acts[i])
        return loss
