"""The careful hand-written eager PyTorch loop: the reference sigmoidnet's engine must match.

The loop (`HandWrittenLoop.epoch`) is the best plain eager PyTorch we know for this workload:
data resident on the device as one contiguous tensor, one `randperm` + one gather per epoch,
mini-batches as contiguous views of the shuffled copy, `BCEWithLogitsLoss` on logits, fused
Adam, `zero_grad(set_to_none=True)`, and the loss summed on the device (read once per epoch,
no per-step `.item()`).

As a script it is the standalone reference for the whole `sigmoidnet train` command: it reads
a Parquet file with pyarrow, trains the same model for a few epochs, prints one line per
epoch and saves the weights. It imports nothing from sigmoidnet or the rest of `benchmarks`,
so its start-up time and memory are what a lean user script would have:

    python benchmarks/standalone_train.py --data table.parquet --labels y0 y1 --epochs 3

Same work as the `sigmoidnet train` run it is compared with (see
benchmarks/sections/command.py): all rows train (no held-out split, so no validation pass),
standard normalization fitted in float64 (sigmoidnet's default), same seed, model, batch size,
optimizer and learning rate.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn


def build_mlp(n_features: int, hidden: Sequence[int], n_labels: int) -> nn.Sequential:
    """input → [Linear → ReLU]×len(hidden) → Linear (logits): sigmoidnet's MLP, same layer
    creation order (so the same seed gives the same initial weights)."""
    layers: list[nn.Module] = []
    width = n_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, n_labels))
    return nn.Sequential(*layers)


class HandWrittenLoop:
    """The careful eager loop; `epoch()` runs one pass and returns the mean loss (0-d tensor
    on the device: the caller reads it, which is the epoch's one host sync)."""

    def __init__(
        self,
        x: torch.Tensor,  # (N, F) float32
        y: torch.Tensor,  # (N, L) float32 0/1
        *,
        hidden: Sequence[int] = (128,),
        batch_size: int = 1024,
        lr: float = 1e-3,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        dev = torch.device(device)
        torch.manual_seed(seed)
        self.model = build_mlp(x.shape[1], hidden, y.shape[1]).to(dev)
        self.opt = torch.optim.Adam(
            self.model.parameters(), lr=lr, fused=dev.type in ("cpu", "cuda")
        )
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.x = x.to(dev).contiguous()
        self.y = y.to(dev, torch.float32).contiguous()
        self.batch_size = batch_size
        self.gen = torch.Generator().manual_seed(seed)

    def epoch(self) -> torch.Tensor:
        model, opt, loss_fn, bs = self.model, self.opt, self.loss_fn, self.batch_size
        model.train()
        n = self.x.shape[0]
        perm = torch.randperm(n, generator=self.gen).to(self.x.device, non_blocking=True)
        xs, ys = self.x[perm], self.y[perm]  # one gather per epoch; batches are views
        total = torch.zeros((), device=self.x.device)
        for i in range(0, n, bs):
            xb, yb = xs[i : i + bs], ys[i : i + bs]  # (B, F), (B, L)
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total.add_(loss.detach(), alpha=xb.shape[0])  # summed on the device, no sync
        return total / n


def columns_to_float32(batch: Any, names: Sequence[str], out: np.ndarray, start: int) -> None:
    """Write `batch`'s columns `names` into rows start.. of the (N, len(names)) float32
    array `out`, column by column (the batch is a few thousand rows, so the strided writes
    stay in cache)."""
    k = batch.num_rows
    for j, name in enumerate(names):
        out[start : start + k, j] = batch.column(name).to_numpy()


def load_parquet(
    path: str, labels: Sequence[str], batch_rows: int = 65536
) -> tuple[np.ndarray, np.ndarray]:
    """Features (every non-label column, file order) and labels as C-contiguous float32,
    read in row batches: no whole Arrow table and no (N, F) float64 intermediate."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    features = [c for c in pf.schema_arrow.names if c not in set(labels)]
    n = pf.metadata.num_rows
    x = np.empty((n, len(features)), dtype=np.float32)
    y = np.empty((n, len(labels)), dtype=np.float32)
    start = 0
    for batch in pf.iter_batches(batch_size=batch_rows):
        columns_to_float32(batch, features, x, start)
        columns_to_float32(batch, labels, y, start)
        start += batch.num_rows
    import pyarrow as pa

    pa.default_memory_pool().release_unused()  # hand the decoded pages back to the OS
    return x, y


def standardize_(x: np.ndarray, chunk: int = 16384) -> None:
    """In place: (x - mean) / std per feature, statistics accumulated in float64 over
    row chunks (bounded temporaries); zero-variance features keep std 1."""
    n = x.shape[0]
    total = np.zeros(x.shape[1])
    for i in range(0, n, chunk):
        total += x[i : i + chunk].sum(axis=0, dtype=np.float64)
    mean = total / max(n, 1)
    sq = np.zeros(x.shape[1])
    for i in range(0, n, chunk):
        d = x[i : i + chunk].astype(np.float64) - mean
        sq += np.einsum("ij,ij->j", d, d)
    std = np.sqrt(sq / max(n, 1)).astype(np.float32)
    std[~(np.isfinite(std) & (std > 0))] = 1.0
    np.subtract(x, mean.astype(np.float32), out=x)
    np.divide(x, std, out=x)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="Parquet file")
    p.add_argument("--labels", nargs="+", required=True)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, nargs="*", default=[128])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--normalize", choices=["standard", "none"], default="standard")
    p.add_argument("--out", default=None, help="where to save the state_dict (torch.save)")
    args = p.parse_args(argv)

    started = time.perf_counter()
    x, y = load_parquet(args.data, args.labels)
    if args.normalize == "standard":
        standardize_(x)
    print(f"loaded {x.shape[0]:,} rows in {time.perf_counter() - started:.2f}s", flush=True)
    loop = HandWrittenLoop(
        torch.from_numpy(x),
        torch.from_numpy(y),
        hidden=args.hidden,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        device=args.device,
    )
    del x, y  # the loop holds the only reference (zero-copy on the CPU)
    n = loop.x.shape[0]
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        loss = float(loop.epoch())
        dt = time.perf_counter() - t0
        if not math.isfinite(loss):
            raise SystemExit(f"epoch {epoch}: loss is {loss}")
        print(f"epoch {epoch}  loss {loss:.4f}  {dt:.2f}s  {n / dt:,.0f} rows/s", flush=True)
    if args.out:
        torch.save(loop.model.state_dict(), args.out)
    print(f"done in {time.perf_counter() - started:.2f}s", flush=True)


if __name__ == "__main__":
    main()
