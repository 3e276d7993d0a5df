"""sigmoidnet.engine.direct_adam: bit for bit `optimizer.step()`, and its self-check."""

from __future__ import annotations

import pytest
import torch

from sigmoidnet.engine import direct_adam
from sigmoidnet.engine.direct_adam import DirectAdam


@pytest.mark.parametrize(("kind", "weight_decay"), [("adam", 0.0), ("adam", 0.01), ("adamw", 0.01)])
def test_direct_adam_is_bit_for_bit_optimizer_step(kind: str, weight_decay: float) -> None:
    def make() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Linear(7, 2))
        cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
        return model, cls(model.parameters(), lr=0.01, weight_decay=weight_decay, fused=True)

    ref_model, ref_opt = make()
    model, opt = make()
    assert DirectAdam.applies(opt)
    direct = DirectAdam(opt)
    gen = torch.Generator().manual_seed(1)
    for step in range(6):
        if step == 3:  # a schedule changing the rate is followed
            ref_opt.param_groups[0]["lr"] = opt.param_groups[0]["lr"] = 0.003
        for p, q in zip(ref_model.parameters(), model.parameters(), strict=True):
            g = torch.randn(p.shape, generator=gen)
            if p.grad is None:
                p.grad, q.grad = g.clone(), g.clone()
            else:  # gradients are written in place, as the manual step does
                p.grad.copy_(g)
                q.grad.copy_(g)  # type: ignore[union-attr]
        ref_opt.step()
        direct.step()
        for p, q in zip(ref_model.parameters(), model.parameters(), strict=True):
            assert torch.equal(p, q)
            for key in ("exp_avg", "exp_avg_sq", "step"):
                assert torch.equal(ref_opt.state[p][key], opt.state[q][key])
    assert direct.lists is not None  # (the direct path was taken after the first step)


def test_direct_adam_only_where_it_is_the_same() -> None:
    params = [torch.nn.Parameter(torch.zeros(3))]
    assert not DirectAdam.applies(torch.optim.Adam(params, fused=False))
    assert not DirectAdam.applies(torch.optim.Adam(params, fused=True, amsgrad=True))
    assert not DirectAdam.applies(torch.optim.SGD(params, lr=0.1))
    opt = torch.optim.Adam(params, fused=True)
    opt.register_step_post_hook(lambda *_: None)
    assert not DirectAdam.applies(opt)


def test_a_changed_private_signature_falls_back_to_optimizer_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a future torch whose fused kernel takes other arguments: the self-check catches it
    # once, and the engine stays on optimizer.step() instead of failing mid-run
    def changed(*args: object, **kwargs: object) -> None:
        raise TypeError("_fused_adam_() got an unexpected keyword argument 'grad_scale'")

    monkeypatch.setattr(torch, "_fused_adam_", changed)
    monkeypatch.setattr(direct_adam, "_CHECKED", {})
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))], lr=0.01, fused=True)
    assert DirectAdam.eligible(opt)
    assert not DirectAdam.applies(opt)


def test_a_direct_call_that_differs_by_one_bit_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    real_init = DirectAdam.__init__

    def off_by_a_bit(self: DirectAdam, opt: torch.optim.Optimizer) -> None:
        real_init(self, opt)
        kernel = self.kernel

        def nudged(params: list[torch.Tensor], *args: object, **kwargs: object) -> None:
            kernel(params, *args, **kwargs)
            with torch.no_grad():
                p = params[0].view(-1)
                p[0] = torch.nextafter(p[0], p[0] + 1)

        self.kernel = nudged

    monkeypatch.setattr(direct_adam, "_CHECKED", {})
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))], lr=0.01, fused=True)
    with monkeypatch.context() as m:
        m.setattr(DirectAdam, "__init__", off_by_a_bit)
        assert not DirectAdam.applies(opt)
    monkeypatch.setattr(direct_adam, "_CHECKED", {})
    assert DirectAdam.applies(opt)  # the real call passes
