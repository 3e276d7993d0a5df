from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    # tiny models: thread start-up costs more than it saves
    torch.set_num_threads(1)


def write_learnable_csv(path: Path, n: int = 400, n_features: int = 6, seed: int = 0) -> Path:
    """A linearly separable-ish two-label problem: y_k = [w_k · x + noise > 0]."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features)) * np.arange(1, n_features + 1) + 3.0
    w = rng.normal(size=(n_features, 2))
    logits = (x - 3.0) / np.arange(1, n_features + 1) @ w + 0.3 * rng.normal(size=(n, 2))
    y = (logits > 0).astype(int)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", *[f"f{i}" for i in range(n_features)], "a", "b"])
        for i in range(n):
            out.writerow([f"r{i}", *[repr(float(v)) for v in x[i]], *y[i]])
    return path


@pytest.fixture
def learnable_csv(tmp_path: Path) -> Path:
    return write_learnable_csv(tmp_path / "learn.csv")


@pytest.fixture
def learnable_config(tmp_path: Path, learnable_csv: Path) -> Path:
    cfg = tmp_path / "learn.yaml"
    cfg.write_text(
        "seed: 0\n"
        "device: cpu\n"
        "data:\n"
        "  source: csv\n"
        f"  path: {learnable_csv.name}\n"
        "  labels: [a, b]\n"
        "  features: [f0, f1, f2, f3, f4, f5]\n"
        "model:\n"
        "  hidden_sizes: [16]\n"
        "train:\n"
        "  epochs: 8\n"
        "  batch_size: 32\n"
        "  lr: 0.01\n"
        f"out_dir: {tmp_path / 'runs'}\n"
    )
    return cfg
