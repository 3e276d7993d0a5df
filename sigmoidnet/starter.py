"""`sigmoidnet init`: a commented starter config for a table, that trains as it is.

`starter(data, labels, out)` reads the file the way training will (`load_dataset`: the
sniffed delimiter, the column kinds, the columns left out, the label mappings), picks the
positive value of a label whose two values are not an obvious pair (the rarer one, ties by
value order: the usual "positive = the class of interest" guess, written with a comment to
check it), and chooses training settings for a real table from its size. Every choice is
written out with a comment. Nothing is printed here: the CLI renders the columns table.

Settings (the schema's defaults stay the tutorial's): `n` training rows, `f` model inputs.
- model: one hidden layer of 32 units below 1,000 rows, 64 below 50,000, else [128, 64];
  dropout 0.1 below 5,000 rows (small tables overfit), else 0;
- batch size 32 below 2,000 rows, 128 below 100,000, else 512;
- epochs: enough for about 3,000 optimizer steps, at least 20 and at most 200, and at most
  30 passes over a table of a million rows or more (the model kept is the epoch with the
  best validation loss, so extra epochs cost time, not quality);
- AdamW, lr 0.003, weight decay 0.01; pos_weight auto when a label's positive rate is
  below 20% (rare positives); val_fraction 0.2.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sigmoidnet.errors import DataError, UsageError


@dataclass
class Starter:
    """The config text, and what the CLI shows beside it."""

    text: str
    columns: list[Any]  # sigmoidnet.data.table.ColumnInfo
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


def settings_for(rows: int, inputs: int, positive_rates: list[float]) -> dict[str, Any]:
    """The model and train sections for `rows` training rows of `inputs` model inputs."""
    hidden = [32] if rows < 1000 else [64] if rows < 50_000 else [128, 64]
    batch = 32 if rows < 2000 else 128 if rows < 100_000 else 512
    steps = max(1, math.ceil(rows / batch))
    epochs = min(200, max(20, math.ceil(3000 / steps)))
    if rows >= 1_000_000:
        epochs = min(epochs, 30)
    train: dict[str, Any] = {
        "epochs": epochs,
        "batch_size": batch,
        "lr": 0.003,
        "optimizer": "adamw",
        "weight_decay": 0.01,
    }
    if positive_rates and min(positive_rates) < 0.2:
        train["pos_weight"] = "auto"
    model = {"hidden_sizes": hidden, "dropout": 0.1 if rows < 5000 else 0.0}
    return {"model": model, "train": train}


def _name(path: str) -> str:
    stem = Path(path).name.split(".")[0]
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", stem).lstrip(".")[:100]
    return name or "sigmoidnet"


def _rel(path: str, folder: str) -> str:
    try:
        return os.path.relpath(os.path.abspath(path), os.path.abspath(folder))
    except ValueError:  # pragma: no cover - another drive (Windows)
        return os.path.abspath(path)


def _quote(v: object) -> str:
    import json

    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a YAML string
    return json.dumps(v)


def _choose_positive(
    data_path: str, source: str, labels: list[str], delim: str | None
) -> dict[str, Any]:
    """`data.positive` for the labels whose two values need one: the rarer value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from sigmoidnet.data.formats.csv import CsvReader
    from sigmoidnet.data.formats.parquet import ParquetReader
    from sigmoidnet.data.table import label_values
    from sigmoidnet.preprocess.labels import LabelError, LabelMap

    if source == "csv":
        reader = CsvReader(data_path, delim)
        present = [c for c in labels if c in reader.columns]
        table = reader.table(present)
    else:
        pr = ParquetReader(data_path)
        present = [c for c in labels if c in pr.columns]
        table = pa.Table.from_batches(list(pr.batches(present)))
    chosen: dict[str, Any] = {}
    for name in present:
        col = label_values(table.column(name))
        try:
            LabelMap.fit(name, col)
            continue
        except LabelError:
            pass
        counts = pc.value_counts(col)
        pairs = [
            (int(c), v)
            for v, c in zip(
                counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
            )
            if v is not None
        ]
        if len(pairs) != 2:
            continue  # three or more values: training's error says so
        pairs.sort(key=lambda t: (t[0], str(t[1])))
        value = pairs[0][1]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        chosen[name] = value
    return chosen


def starter(data: str, labels: list[str], out: str | None = None) -> Starter:
    """The starter config for `data` (CSV or Parquet) with label columns `labels`; `out`:
    where it will be written (paths in it are relative to that file's folder; without it,
    to the working directory)."""
    from sigmoidnet.config import DataConfig
    from sigmoidnet.data import detect_format, load_dataset
    from sigmoidnet.data.formats.csv import CsvReader

    if not labels:
        raise UsageError("--label", "name at least one label column")
    source = detect_format(data)
    if source not in ("csv", "parquet"):
        raise UsageError(data, f"init reads CSV and Parquet tables, not {source}")
    delimiter = None
    if source == "csv":
        delimiter = CsvReader(data).delimiter
    positive = _choose_positive(data, source, labels, delimiter)
    keys: dict[str, Any] = {"source": source, "path": os.path.abspath(data), "labels": labels}
    if delimiter is not None:
        keys["delimiter"] = delimiter
    if positive:
        keys["positive"] = positive
    try:
        cfg = DataConfig(**keys)
    except ValueError as e:  # pragma: no cover - the keys are built here
        raise UsageError("init", str(e)) from None
    ds = load_dataset(cfg, 0)
    n = int(ds.x_train.shape[0]) + (0 if ds.x_val is None else int(ds.x_val.shape[0]))
    if n == 0:  # pragma: no cover - load_dataset refuses it
        raise DataError(data, "no data rows")
    rates = [float(r) for r in ds.y_train.mean(dim=0).tolist()]
    rows = int(ds.x_train.shape[0])
    settings = settings_for(rows, ds.n_features, rates)
    folder = os.path.dirname(out) if out else "."
    text = _render(data, folder, labels, ds, cfg, positive, settings, n)
    return Starter(text, ds.columns, list(ds.notes), settings)


def _render(
    data: str,
    folder: str,
    labels: list[str],
    ds: Any,
    cfg: Any,
    positive: dict[str, Any],
    settings: dict[str, Any],
    rows: int,
) -> str:
    pre = ds.preprocessor
    ignored = list(pre.ignored)
    why = {c.name: c.note for c in ds.columns if c.kind == "left out"}
    lines = [
        f"# Starter config written by `sigmoidnet init` for {Path(data).name}: {rows:,} rows "
        f"with a label,",
        f"# {len(pre.raw_names)} feature columns → {pre.n_features} model inputs. Train it "
        "with `sigmoidnet train --config THIS_FILE`.",
        f"name: {_name(data)}",
        "seed: 0",
        "data:",
        f"  source: {cfg.source}",
        f"  path: {_quote(_rel(data, folder))}  # relative to this file's folder",
        f"  labels: [{', '.join(_quote(x) for x in labels)}]",
    ]
    if cfg.source == "csv":
        d = cfg.delimiter_char or ","
        lines.append(f"  delimiter: {_quote(d)}  # sniffed from the header and the first rows")
    pos_lines = []
    for m in pre.labels:
        if m.name in positive:
            pos_lines.append(
                f"    {_quote(m.name)}: {_quote(positive[m.name])}  # the rarer value; CHECK: "
                "is it the class you want probabilities of?"
            )
        else:
            lines.append(f"  # label {m.name}: {m.describe()} (found on its own)")
    if pos_lines:
        lines += ["  positive:", *pos_lines]
    if ignored:
        lines.append("  exclude:  # left out (delete a line to use the column as a feature)")
        lines += [f"    - {_quote(c)}  # {why.get(c, '')}" for c in ignored]
    cats = pre.text_names
    if cats:
        lines.append(f"  # categorical (one-hot, at most 50 values each): {', '.join(cats)}")
    if any(c.indicator for c in pre.columns):
        lines.append(
            "  impute: median  # missing numbers: the training median, plus a 0/1 input "
            "saying it was missing"
        )
    lines += [
        "  val_fraction: 0.2  # held out for validation (seeded, stratified for one label)",
        "model:  # for a real table of this size (the schema defaults are the tutorial's)",
        f"  hidden_sizes: [{', '.join(str(h) for h in settings['model']['hidden_sizes'])}]",
        "  activation: relu",
        f"  dropout: {settings['model']['dropout']}",
        "train:",
        f"  epochs: {settings['train']['epochs']}  # the model kept is the best validation loss",
        f"  batch_size: {settings['train']['batch_size']}",
        f"  lr: {settings['train']['lr']}",
        "  optimizer: adamw",
        f"  weight_decay: {settings['train']['weight_decay']}",
    ]
    if "pos_weight" in settings["train"]:
        lines.append("  pos_weight: auto  # a label has few positives: weigh them up")
    return "\n".join(lines) + "\n"
