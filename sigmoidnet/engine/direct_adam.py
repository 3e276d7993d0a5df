"""`optimizer.step()` for fused Adam/AdamW, without `Optimizer.step`'s per-call Python work.

`Optimizer.step` spends about a fifth of a small MLP's step on CPU in hooks, grouping tensors
by device and state checks. `DirectAdam` calls the same two ops `torch.optim.Adam(fused=True)`
calls (`_foreach_add_` on the step counters, then `_fused_adam_`/`_fused_adamw_`) on the
optimizer's own state tensors, so the update is bit for bit the same and the state stays the
optimizer's (a test compares the two).

Those ops are private torch API. They exist with the same signature in torch 2.4 to 2.15, but
a later torch may change them, so `applies` first checks the direct call once per process and
kind of optimizer, on a tiny problem, against `optimizer.step()`: if it raises or differs by
one bit, the engine stays on `optimizer.step()` for good (slower, never wrong).
"""

from __future__ import annotations

import importlib
from typing import Any

import torch

_optimizer_module = importlib.import_module("torch.optim.optimizer")  # global step hooks

#: (optimizer class, device type, decoupled?, weight decay used?) → the self-check passed
_CHECKED: dict[tuple[type, str, bool, bool], bool] = {}


class DirectAdam:
    """Steps a fused single-group Adam/AdamW directly. The first call goes through
    `optimizer.step()`, which creates the state (exp_avg, exp_avg_sq, step)."""

    def __init__(self, opt: torch.optim.Optimizer) -> None:
        self.opt = opt
        self.group = opt.param_groups[0]
        self.params: list[torch.Tensor] = list(self.group["params"])
        self.lists: tuple[list[torch.Tensor], ...] | None = None
        self.kernel: Any = torch._fused_adamw_ if _decoupled(opt) else torch._fused_adam_

    @staticmethod
    def eligible(opt: torch.optim.Optimizer) -> bool:
        """The configuration the direct call reproduces (no self-check)."""
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

    @classmethod
    def applies(cls, opt: torch.optim.Optimizer) -> bool:
        """Eligible, and the direct call matched `optimizer.step()` bit for bit here."""
        if not cls.eligible(opt):
            return False
        g = opt.param_groups[0]
        device = g["params"][0].device
        key = (type(opt), device.type, _decoupled(opt), g["weight_decay"] != 0)
        if key not in _CHECKED:
            _CHECKED[key] = _self_check(opt, device)
        return _CHECKED[key]

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


def _decoupled(opt: torch.optim.Optimizer) -> bool:
    return isinstance(opt, torch.optim.AdamW) or bool(
        opt.param_groups[0].get("decoupled_weight_decay")
    )


def _self_check(opt: torch.optim.Optimizer, device: torch.device, steps: int = 4) -> bool:
    """Four steps of a tiny problem through `optimizer.step()` and through `DirectAdam`,
    with the hyperparameters of `opt`: True when parameters and state agree bit for bit."""
    g = opt.param_groups[0]
    hyper = {k: g[k] for k in ("lr", "betas", "eps", "weight_decay")}
    gen = torch.Generator().manual_seed(0)
    init = [torch.randn(3, 2, generator=gen), torch.randn(2, generator=gen)]
    grads = [[torch.randn(p.shape, generator=gen) for p in init] for _ in range(steps)]

    cls: Any = type(opt)

    def make() -> tuple[list[torch.nn.Parameter], torch.optim.Optimizer]:
        params = [torch.nn.Parameter(p.to(device).clone()) for p in init]
        made: torch.optim.Optimizer = cls(params, fused=True, **hyper)
        return params, made

    try:
        ref_params, ref = make()
        params, mine = make()
        direct = DirectAdam(mine)
        for step_grads in grads:
            for p, q, gr in zip(ref_params, params, step_grads, strict=True):
                if p.grad is None:
                    p.grad, q.grad = gr.to(device).clone(), gr.to(device).clone()
                else:  # written in place, as the manual step does
                    p.grad.copy_(gr)
                    q.grad.copy_(gr)  # type: ignore[union-attr]
            ref.step()
            direct.step()
        if direct.lists is None:
            return False
        for p, q in zip(ref_params, params, strict=True):
            if not torch.equal(p, q):
                return False
            for key in ("exp_avg", "exp_avg_sq", "step"):
                if not torch.equal(ref.state[p][key], mine.state[q][key]):
                    return False
    except Exception:  # a changed private signature: TypeError, RuntimeError, ...
        return False
    return True
