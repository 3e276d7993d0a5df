"""Using a trained model: `eval` (metrics on held-out or given data) and `predict` (batch
scoring to CSV/Parquet/JSONL). The model and its preprocessing are rebuilt from the artifact
alone: nothing is fitted again here."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sigmoidnet import artifact as art_mod
from sigmoidnet.activation import sigmoid_array
from sigmoidnet.artifact import Artifact
from sigmoidnet.data import Batch, HeldOut, iter_batches, read_heldout
from sigmoidnet.data.transform import check_outputs, transform_checked
from sigmoidnet.errors import CheckpointError, DataError, UsageError
from sigmoidnet.evaluation import EvalReport, evaluate_logits
from sigmoidnet.io import PredictionWriter
from sigmoidnet.model import predict_logits
from sigmoidnet.rundir import MODEL, find_run

CPU = torch.device("cpu")


@dataclass
class EvalResult:
    report: EvalReport
    model_path: str
    data_desc: str


@dataclass
class PredictStats:
    rows: int
    seconds: float


def _batch_logits(art: Artifact, b: Batch, where: str) -> torch.Tensor:
    """Raw (n, F) features of a batch → (n, L) float32 logits on the CPU; a value the stored
    preprocessing cannot bring to a finite float32, or a row whose output is not finite, is a
    `DataError` naming the file's row."""
    x = transform_checked(art.preprocessor, b.x, where, first_row=b.first_row)  # in place
    logits = predict_logits(art.model, torch.from_numpy(x), CPU)
    check_outputs(logits, x, art.feature_names, where, first_row=b.first_row)
    return logits


def _heldout_logits(art: Artifact, path: Path) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Logits and labels of the rows the model's run held out, read again from its files,
    checked against the run's record, transformed with the stored preprocessor."""
    cfg = art.config
    record: HeldOut | None = None
    if art.heldout is not None:
        try:
            record = HeldOut.from_dict(art.heldout)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(str(path), f"bad held-out record in metadata ({e})") from None
    # format 1 carries no record: its split is rebuilt from the config and seed alone
    no_rows = cfg.data.val_path is None and cfg.data.holdout <= 0
    if record is None and (art.format_version >= 2 or no_rows):
        raise UsageError(
            str(path),
            "this model's run has no held-out data (val_fraction 0, no val_path); pass --data FILE",
        )
    held = read_heldout(cfg.data, cfg.seed, record, pre=art.preprocessor)  # transformed
    logits = predict_logits(art.model, torch.from_numpy(held.x), CPU)
    check_outputs(logits, held.x, art.feature_names, held.where, rows=held.rows)
    return logits, torch.from_numpy(held.y), held.desc


def evaluate_model(
    run: str | Path | None = None,
    checkpoint: str | Path | None = None,
    data: str | Path | None = None,
    ignore: list[str] | None = None,
) -> EvalResult:
    """Evaluate `checkpoint` (or `run`'s model, or the latest run's) on `data`, or on the
    held-out rows the run was validated on (read again, checked against the run's record and
    transformed with the stored preprocessor: nothing is re-fitted).
    `ignore` names `data` columns that are neither features nor labels (ids)."""
    path = Path(checkpoint) if checkpoint is not None else find_run(run) / MODEL
    art = art_mod.load(path)
    if data is not None:
        chunks, targets = [], []
        batches = iter_batches(
            str(data), art.feature_names, label_names=art.label_names, keep=ignore or []
        )
        for b in batches:
            chunks.append(_batch_logits(art, b, str(data)))
            assert b.y is not None  # requested labels are always returned
            targets.append(torch.from_numpy(b.y))
        if not chunks:
            raise DataError(str(data), "no rows to evaluate")
        logits, y = torch.cat(chunks), torch.cat(targets)
        desc = str(data)
    else:
        logits, y, desc = _heldout_logits(art, path)
    report = evaluate_logits(logits, y, art.thresholds, art.label_names)
    return EvalResult(report, str(path), desc)


def _same_file(a: str | Path, b: str | Path) -> bool:
    """Whether `a` and `b` name one existing file (through links, hard links included)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # either is missing or not a usable path
        return False


def predict_file(
    checkpoint: str | Path,
    data: str | Path,
    out: str | Path | None,
    threshold: float | None = None,
    keep: list[str] | None = None,
    batch_rows: int = 65536,
) -> PredictStats:
    """Score every row of `data` in order, in batches; write `--keep` columns, then
    `p_<label>` probabilities and `<label>_pred` decisions. `out` is checked before the data
    is read, but nothing is created until the first batch is scored; on any failure or
    interruption nothing new is left (no temporary file, no new folder) and an existing
    `out` is untouched (`io.PredictionWriter`)."""
    import pyarrow as pa

    if out is not None and _same_file(out, data):
        raise UsageError("--out", "is the --data file; predictions would overwrite the input")
    art = art_mod.load(checkpoint)
    keep = keep or []
    names = art.label_names
    clash = [c for c in keep if c in {f"p_{n}" for n in names} | {f"{n}_pred" for n in names}]
    if clash:
        raise UsageError("--keep", f"column {clash[0]!r} clashes with an output column")
    thresholds = np.array(
        [threshold] * len(names) if threshold is not None else art.thresholds, dtype=np.float64
    )
    t0 = time.perf_counter()
    rows = 0
    with PredictionWriter(None if out is None else str(out)) as writer:
        batches = iter_batches(
            str(data),
            art.feature_names,
            label_names=art.label_names,  # ignored when present: predict needs no labels
            keep=keep,
            batch_rows=batch_rows,
            require_labels=False,
        )
        for b in batches:
            logits = _batch_logits(art, b, str(data)).numpy().astype(np.float64)
            probs = sigmoid_array(logits)  # exact, (n, L)
            decisions = (probs > thresholds).astype(np.int8)  # the rule eval uses: p > threshold
            cols: dict[str, pa.Array] = {}
            if b.keep is not None:
                for c in keep:
                    cols[c] = b.keep.column(c)
            for j, n in enumerate(names):
                cols[f"p_{n}"] = pa.array(probs[:, j])
            for j, n in enumerate(names):
                cols[f"{n}_pred"] = pa.array(decisions[:, j])
            writer.write(pa.table(cols))
            rows += b.x.shape[0]
    return PredictStats(rows, time.perf_counter() - t0)
