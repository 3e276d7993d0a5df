"""sigmoidnet.engine.manual_step and steps: the hand-derived step equals autograd's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sigmoidnet.config import load_config
from sigmoidnet.engine import Trainer, fit, prepare
from sigmoidnet.engine.manual_step import ManualStep


@pytest.mark.parametrize(
    ("activation", "hidden", "pos_weight"),
    [
        ("relu", "[16]", "null"),
        ("relu", "[]", "null"),
        ("tanh", "[8, 8]", "auto"),
        ("sigmoid", "[8]", "[2.0, 0.5]"),
        ("leaky_relu", "[8, 4]", "null"),
    ],
)
def test_manual_step_matches_autograd(
    learnable_config: Path, activation: str, hidden: str, pos_weight: str
) -> None:
    sets = [
        f"model.activation={activation}",
        f"model.hidden_sizes={hidden}",
        f"train.pos_weight={pos_weight}",
        "train.epochs=3",
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
