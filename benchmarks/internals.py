"""The bench's only in-process calls into sigmoidnet (everything else runs its `sigmoidnet`
command as a child process): one function per use, each importing what it needs lazily, so
that when sigmoidnet's modules move only this file changes.

- `drive_engine`: `load_config`, `prepare` and `fit` (the throughput, cuda and scaling
  sections);
- `dataset_loader`: `load_config` and `load_dataset` (the load section);
- `sigmoidnet_version`: `__version__` (the run's metadata).
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


class _Enough(Exception):
    """Raised from `fit`'s on_epoch callback to end a measurement."""


def drive_engine(
    cfg_path: Path,
    device: str,
    after_epoch: Callable[[list[tuple[float, float]]], bool],
    overrides: Sequence[str] = (),
    max_epochs: int = 1000,
) -> list[tuple[float, float]]:
    """Run sigmoidnet's engine through its public path — `prepare`, then `fit` — and collect
    (train seconds, train loss) per epoch from the rows `fit` reports (its own timing: from
    before `Trainer.train_epoch` to after the epoch's one host sync). `after_epoch(samples)` runs
    after every epoch (the baselines take their interleaved turn there) and returns False to
    stop. Driving `fit` itself means the bench measures whatever the engine does (thread
    policy, fused or hand-derived steps, ...) without depending on its internals."""
    from sigmoidnet.config import load_config
    from sigmoidnet.engine import fit, prepare

    cfg = load_config(cfg_path, [*overrides, f"train.epochs={max_epochs}"])
    setup = prepare(cfg, device)
    n = int(setup.x_train.shape[0])
    samples: list[tuple[float, float]] = []

    def on_epoch(row: dict[str, Any]) -> None:
        rps = row.get("rows_per_s")
        seconds = n / rps if rps else float(row["seconds"])
        samples.append((seconds, float(row["train_loss"])))
        if not after_epoch(samples):
            raise _Enough

    with contextlib.suppress(_Enough):
        fit(setup, on_epoch=on_epoch)
    del setup
    gc.collect()
    return samples


def dataset_loader(cfg_path: Path) -> Callable[[], Any]:
    """sigmoidnet's `load_dataset` for the config at `cfg_path`, read here once (not part of
    what is timed): each call of the returned function loads the data and returns the dataset
    (its float32 `x_train` and the rest)."""
    from sigmoidnet.config import load_config
    from sigmoidnet.data import load_dataset

    cfg = load_config(cfg_path)
    return functools.partial(load_dataset, cfg.data, cfg.seed)


def sigmoidnet_version() -> str:
    from sigmoidnet import __version__

    return __version__


def checkpoint_cost(
    cfg_path: Path, state_path: Path, epochs: int, overrides: Sequence[str] = ()
) -> list[tuple[float, float]]:
    """Train `epochs` epochs through the engine's `Trainer.fit` with a sink that saves the
    resumable state at every epoch's end — as a run directory does: `Trainer.state_dict()`
    then `engine.checkpoint.save_state` (atomic, file and folder fsynced) — and return, per
    epoch, (the epoch's wall seconds, from one `on_epoch` to the next, state included; the
    seconds the state took: building it and writing it)."""
    import time

    from sigmoidnet.config import load_config
    from sigmoidnet.engine import Trainer, prepare
    from sigmoidnet.engine.checkpoint import save_state

    cfg = load_config(cfg_path, [*overrides, f"train.epochs={epochs}"])
    trainer = Trainer(prepare(cfg, "cpu"))
    spent: list[float] = [0.0]
    build = trainer.state_dict

    def timed_state() -> dict[str, Any]:
        t0 = time.perf_counter()
        state = build()
        spent[-1] += time.perf_counter() - t0
        return state

    trainer.state_dict = timed_state  # type: ignore[method-assign]

    class Sink:
        def log_epoch(self, row: dict[str, Any]) -> None:
            pass

        def save_model(self, artifact: Any) -> None:
            pass

        def save_state(self, state: dict[str, Any]) -> None:
            t0 = time.perf_counter()
            save_state(state_path, state)
            spent[-1] += time.perf_counter() - t0

    marks = [time.perf_counter()]
    out: list[tuple[float, float]] = []

    def on_epoch(row: dict[str, Any]) -> None:
        now = time.perf_counter()
        out.append((now - marks[-1], spent[-1]))
        marks.append(now)
        spent.append(0.0)

    trainer.fit(Sink(), on_epoch=on_epoch)
    del trainer
    gc.collect()
    return out
