"""sigmoidnet.engine.manual_step and steps: the hand-derived step equals autograd's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sigmoidnet.config import load_config
from sigmoidnet.engine import Trainer, fit, prepare
from sigmoidnet.engine.manual_step import ManualStep


@pytest.mark.parametrize(
    ("activation", "hidden", "pos_weight", "extra"),
    [
        ("relu", "[16]", "null", []),
        ("relu", "[]", "null", []),
        ("tanh", "[8, 8]", "auto", []),
        ("sigmoid", "[8]", "[2.0, 0.5]", []),
        ("leaky_relu", "[8, 4]", "null", []),
        # clipping (a max_norm small enough to clip every step) and lr schedules keep the
        # hand-derived step: it must still equal autograd's
        ("relu", "[16]", "null", ["train.grad_clip=0.05"]),
        ("tanh", "[8]", "auto", ["train.grad_clip=0.2", "train.lr_schedule=onecycle"]),
        ("relu", "[8]", "null", ["train.lr_schedule=cosine", "train.warmup_epochs=1"]),
        ("relu", "[8]", "null", ["train.optimizer=sgd", "train.grad_clip=0.1"]),
    ],
)
def test_manual_step_matches_autograd(
    learnable_config: Path, activation: str, hidden: str, pos_weight: str, extra: list[str]
) -> None:
    sets = [
        f"model.activation={activation}",
        f"model.hidden_sizes={hidden}",
        f"train.pos_weight={pos_weight}",
        "train.epochs=3",
        *extra,
    ]
    cfg = load_config(learnable_config, sets)
    manual = prepare(cfg)
    assert isinstance(Trainer(manual).step, ManualStep)
    auto = prepare(cfg)
    auto.allow_manual = False
    h_manual = fit(manual).history
    h_auto = fit(auto).history
    for a, b in zip(h_manual, h_auto, strict=True):
        assert abs(a["train_loss"] - b["train_loss"]) < 1e-5
        assert abs(a["val_loss"] - b["val_loss"]) < 1e-5
    for p, q in zip(manual.model.parameters(), auto.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
