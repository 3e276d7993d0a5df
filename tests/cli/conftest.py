from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.util import invoke


@pytest.fixture
def trained_run(learnable_config: Path, tmp_path: Path) -> Path:
    code, _, stderr = invoke("train", "--config", str(learnable_config), "--quiet")
    assert code == 0, stderr
    return tmp_path / "runs" / "latest"
