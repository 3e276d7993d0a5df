"""The loops sigmoidnet's engine is measured against, and the machine's sgemm peak.

- `IdiomaticLoop`: the tutorial-style loop most code is written as — `DataLoader(TensorDataset,
  shuffle=True)`, a model ending in `nn.Sigmoid`, `BCELoss`, plain `Adam`, `zero_grad()`, and
  `loss.item()` every step for a running loss.
- `HandWrittenLoop` (from `standalone_train`): the careful eager loop.
- `sgemm_peak`: the best float32 matmul rate of `torch.mm` on this machine, on matrices shaped
  like the workload and on larger square ones.

Every loop exposes `epoch()`, returning the epoch's mean training loss (a float, or a 0-d
device tensor whose `float()` is the epoch's one host synchronisation).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from benchmarks.standalone_train import HandWrittenLoop, build_mlp

__all__ = ["HandWrittenLoop", "IdiomaticLoop", "MatmulRate", "build_mlp", "sgemm_peak"]


class IdiomaticLoop:
    """The loop of the tutorial and of most examples (what "idiomatic" means here)."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        hidden: Sequence[int] = (128,),
        batch_size: int = 1024,
        lr: float = 1e-3,
        seed: int = 0,
    ) -> None:
        from torch.utils.data import DataLoader, TensorDataset

        torch.manual_seed(seed)
        self.model = nn.Sequential(build_mlp(x.shape[1], hidden, y.shape[1]), nn.Sigmoid())
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.loss_fn = nn.BCELoss()
        gen = torch.Generator().manual_seed(seed)
        self.loader = DataLoader(
            TensorDataset(x, y.float()), batch_size=batch_size, shuffle=True, generator=gen
        )

    def epoch(self, max_batches: int | None = None) -> float:
        """One pass (or its first `max_batches` batches: a warm-up)."""
        self.model.train()
        running, rows = 0.0, 0
        for i, (xb, yb) in enumerate(self.loader):
            if max_batches is not None and i >= max_batches:
                break
            self.opt.zero_grad()
            loss = self.loss_fn(self.model(xb), yb)
            loss.backward()
            self.opt.step()
            running += loss.item() * xb.shape[0]
            rows += xb.shape[0]
        return running / rows


@dataclass
class MatmulRate:
    shape: str  # "(m×k)@(k×n)"
    gflops: float


def _mm_rate(m: int, k: int, n: int, min_seconds: float, device: torch.device) -> float:
    a = torch.randn(m, k, device=device)
    b = torch.randn(k, n, device=device)
    out = torch.empty(m, n, device=device)
    flops = 2.0 * m * k * n
    reps = 1
    best = float("inf")
    blocks = 12
    for _ in range(3):  # warm-up, then calibrate the number of repetitions per block
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b, out=out)
        _sync(device)
        dt = time.perf_counter() - t0
        reps = max(1, int(reps * min_seconds / blocks / max(dt, 1e-9)))
    for _ in range(blocks):  # best of many short blocks: the machine may be shared and busy
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b, out=out)
        _sync(device)
        best = min(best, (time.perf_counter() - t0) / reps)
    return flops / best / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sgemm_peak(
    batch_size: int = 1024,
    n_features: int = 64,
    hidden: int = 128,
    squares: Sequence[int] = (512, 1024, 2048),
    min_seconds: float = 0.6,
    device: str | torch.device = "cpu",
) -> list[MatmulRate]:
    """float32 `torch.mm` GFLOP/s (2·m·k·n per product) for the workload's shapes — the
    forward (B×F)@(F×H), the weight gradient (F×B)@(B×H) and the input-side gradient
    (B×H)@(H×F) — and for square matrices; the caller reports the best as the peak."""
    dev = torch.device(device)
    shapes = [
        (batch_size, n_features, hidden),
        (n_features, batch_size, hidden),
        (batch_size, hidden, n_features),
        *((s, s, s) for s in squares),
    ]
    return [
        MatmulRate(f"({m}×{k})@({k}×{n})", _mm_rate(m, k, n, min_seconds, dev))
        for m, k, n in shapes
    ]
