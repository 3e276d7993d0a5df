"""sigmoidnet reproduces the tutorial's network (configs/seed-example.yaml) loss for loss."""

from __future__ import annotations

import contextlib
import io
import re
import runpy
import sys
from pathlib import Path

import pytest

from sigmoidnet.config import load_config
from sigmoidnet.engine import fit, prepare

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "tests" / "fixtures" / "tutorial_network.py"
SHARED = ROOT.parent / "shared" / "seed" / "tutorial_network.py"


def tutorial_losses(seed: int) -> list[float]:
    out = io.StringIO()
    argv = sys.argv
    sys.argv = [str(TUTORIAL), str(seed)]
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(str(TUTORIAL), run_name="__main__")
    finally:
        sys.argv = argv
    return [float(m) for m in re.findall(r"Loss: (\S+)", out.getvalue())]


def sigmoidnet_losses(seed: int) -> list[float]:
    cfg = load_config(ROOT / "configs" / "seed-example.yaml", [f"seed={seed}", "device=cpu"])
    return [row["train_loss"] for row in fit(prepare(cfg)).history]


@pytest.mark.parametrize("seed", [0, 1, 7, 12345])
def test_losses_match_the_tutorial(seed: int) -> None:
    expected = tutorial_losses(seed)
    got = sigmoidnet_losses(seed)
    assert len(expected) == len(got) == 10
    for epoch, (e, g) in enumerate(zip(expected, got, strict=True), 1):
        assert abs(e - g) < 1e-4, f"epoch {epoch}: tutorial {e}, sigmoidnet {g}"
    assert got[-1] < got[0]  # and it learns


def test_fixture_is_the_shared_tutorial() -> None:
    if not SHARED.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert TUTORIAL.read_text() == SHARED.read_text()
