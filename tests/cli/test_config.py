"""`sigmoidnet config show` / `config schema`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.util import invoke


def test_config_show_and_schema(learnable_config: Path) -> None:
    code, out, _ = invoke(
        "config", "show", "--config", str(learnable_config), "--set", "train.lr=1e-4"
    )
    assert code == 0
    assert "lr: 0.0001" in out
    code, out, _ = invoke("config", "schema")
    assert code == 0 and json.loads(out)["title"] == "sigmoidnet config"
