"""Using a trained model: `eval` (metrics on held-out or given data) and `predict` (batch
scoring to CSV/Parquet/JSONL). The model and its preprocessing are rebuilt from the artifact
alone: nothing is fitted again here."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from sigmoidnet import artifact as art_mod
from sigmoidnet.activation import sigmoid_array
from sigmoidnet.artifact import Artifact
from sigmoidnet.calibrate.tuning import calibrated_logits
from sigmoidnet.data import Batch, HeldOut, iter_batches, read_heldout
from sigmoidnet.data.table import dropped_note, select_rows
from sigmoidnet.data.transform import check_outputs, encode_checked, unseen_notes
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
    notes: list[str] = field(default_factory=list)  # rows without a label, unseen categories
    #: where each label's threshold came from ("--threshold", "decision.threshold", "f1 on
    #: 67 validation rows: F1 0.912", "0.5 (format 3 model)")
    threshold_sources: list[str] = field(default_factory=list)
    #: a calibrated model: its method, and per label ECE and Brier without and with it
    calibration: dict[str, Any] | None = None


@dataclass
class PredictStats:
    rows: int
    seconds: float
    notes: list[str] = field(default_factory=list)  # unseen categories


def _batch_logits(
    art: Artifact,
    b: Batch,
    where: str,
    unseen: dict[str, int],
    rows: npt.NDArray[np.int64] | None = None,
) -> torch.Tensor:
    """Raw rows of a batch → (n, L) float32 logits on the CPU; a value the stored
    preprocessing cannot encode, or a row whose output is not finite, is a `DataError`
    naming the file's row. Categories never seen in training are added up in `unseen`."""
    pre = art.preprocessor
    block = b.raw(pre.raw_names)
    x = encode_checked(pre, block, where, first_row=b.first_row, rows=rows, unseen=unseen)
    logits = predict_logits(art.model, torch.from_numpy(x), CPU)
    check_outputs(logits, x, art.feature_names, where, first_row=b.first_row, rows=rows)
    return logits


def _labelled(b: Batch) -> tuple[Batch, npt.NDArray[np.int64] | None, int]:
    """The rows of an eval batch that have every label: (batch, their file rows, dropped)."""
    assert b.y is not None
    kept = np.asarray(~np.isnan(b.y).any(axis=1), dtype=bool)
    if kept.all():
        return b, None, 0
    block = select_rows(b.raw([]), kept) if b.block is not None else None
    x = b.x[kept] if block is None else block.numbers
    rows = np.flatnonzero(kept) + b.first_row
    out = Batch(x=x, y=b.y[kept], keep=None, first_row=b.first_row, block=block)
    return out, rows, int((~kept).sum())


def _heldout_logits(art: Artifact, path: Path) -> tuple[torch.Tensor, torch.Tensor, str, list[str]]:
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
    return logits, torch.from_numpy(held.y), held.desc, held.notes


def heldout_logits(art: Artifact, path: Path) -> tuple[torch.Tensor, torch.Tensor, str, list[str]]:
    """The raw (uncalibrated) logits and labels of the rows `art`'s run held out (`report`)."""
    return _heldout_logits(art, path)


def evaluate_model(
    run: str | Path | None = None,
    checkpoint: str | Path | None = None,
    data: str | Path | None = None,
    ignore: list[str] | None = None,
    threshold: float | None = None,
) -> EvalResult:
    """Evaluate `checkpoint` (or `run`'s model, or the latest run's) on `data`, or on the
    held-out rows the run was validated on (read again, checked against the run's record and
    transformed with the stored preprocessor: nothing is re-fitted).
    `ignore` names `data` columns that are neither features nor labels (ids); `threshold`
    replaces every label's stored threshold."""
    path = Path(checkpoint) if checkpoint is not None else find_run(run) / MODEL
    art = art_mod.load(path)
    notes: list[str] = []
    if data is not None:
        where = str(data)
        chunks, targets = [], []
        unseen: dict[str, int] = {}
        dropped = 0
        batches = iter_batches(
            where, art.preprocessor, label_names=art.label_names, keep=ignore or []
        )
        for b in batches:
            assert b.y is not None  # requested labels are always returned
            b, rows, k = _labelled(b)
            dropped += k
            if len(b):
                chunks.append(_batch_logits(art, b, where, unseen, rows))
                assert b.y is not None
                targets.append(torch.from_numpy(b.y))
        if dropped:
            notes.append(dropped_note(dropped, where))
        notes.extend(unseen_notes(art.preprocessor, unseen, where))
        if not chunks:
            raise DataError(where, "no rows to evaluate")
        logits, y = torch.cat(chunks), torch.cat(targets)
        desc = where
    else:
        logits, y, desc, notes = _heldout_logits(art, path)
    if threshold is not None:
        thresholds = [threshold] * len(art.label_names)
        sources = ["--threshold"] * len(art.label_names)
    else:
        thresholds = art.thresholds
        sources = art.threshold_sources or [f"stored (format {art.format_version} model)"] * len(
            art.label_names
        )
    raw: EvalReport | None = None
    if art.calibration is not None:
        raw = evaluate_logits(logits, y, thresholds, art.label_names)
        logits = torch.from_numpy(calibrated_logits(art, logits.numpy()))
    report = evaluate_logits(logits, y, thresholds, art.label_names)
    result = EvalResult(report, str(path), desc, notes, sources)
    if raw is not None and art.calibration is not None:
        result.calibration = {
            "method": art.calibration["method"],
            "labels": [
                {
                    "name": before.name,
                    "ece_before": before.ece,
                    "ece_after": after.ece,
                    "brier_before": before.brier,
                    "brier_after": after.brier,
                }
                for before, after in zip(raw.labels, report.labels, strict=True)
            ],
        }
    return result


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
    unseen: dict[str, int] = {}
    with PredictionWriter(None if out is None else str(out)) as writer:
        batches = iter_batches(
            str(data),
            art.preprocessor,
            label_names=art.label_names,  # ignored when present: predict needs no labels
            keep=keep,
            batch_rows=batch_rows,
            require_labels=False,
        )
        for b in batches:
            logits = calibrated_logits(art, _batch_logits(art, b, str(data), unseen).numpy())
            probs = sigmoid_array(logits)  # exact, (n, L); calibrated when the model is
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
    notes = unseen_notes(art.preprocessor, unseen, str(data))
    return PredictStats(rows, time.perf_counter() - t0, notes)
