"""Helpers shared by the data tests: configs from dicts, files from text, error checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sigmoidnet.config import Config, config_from_dict
from sigmoidnet.data import Dataset, load_dataset
from sigmoidnet.engine.setup import model_size_check
from sigmoidnet.errors import DataError


def make_cfg(data: dict[str, Any], model: dict[str, Any] | None = None, seed: int = 0) -> Config:
    return config_from_dict({"seed": seed, "data": data, "model": model or {}}, "test.yaml")


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def csv_cfg(path: str, **data: Any) -> Config:
    model = data.pop("model", None)
    base: dict[str, Any] = {"source": "csv", "path": path, "labels": ["y"], "val_fraction": 0.0}
    base.update(data)
    return make_cfg(base, model)


def data_error(fn: Callable[[], object]) -> DataError:
    with pytest.raises(DataError) as info:
        fn()
    err = info.value
    assert err.exit_code == 3
    assert "\n" not in err.message
    return err


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def load(cfg: Config) -> Dataset:
    """`load_dataset` as training calls it: the data config, the seed, the model's sizes."""
    return load_dataset(cfg.data, cfg.seed, model_size_check(cfg))
