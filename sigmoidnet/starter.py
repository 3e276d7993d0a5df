"""`sigmoidnet init`: a commented starter config for a table, that trains as it is.

`starter(data, labels, out)` reads the file the way training will (`load_dataset`: the
sniffed delimiter, the column kinds, the columns left out, the label mappings), picks the
positive value of a label whose two values are not an obvious pair (the rarer one, ties by
value order: the usual "positive = the class of interest" guess, written with a comment to
check it), and chooses training settings for a real table from its size. Every choice is
written out with a comment, and the text is checked to read back (as `load_config` reads
it) into exactly `Starter.config`. Nothing is printed here: the CLI renders the columns
table.

- Labels: 0/1 and true/false columns and the obvious pairs (`OBVIOUS_PAIRS`: yes/no, ...)
  map on their own (a comment says how); any other pair of values gets
  `data.positive: {COL: VALUE}`, the rarer value, marked CHECK; one value, or three or more,
  is a `DataError` (exit 3), as in training.
- Columns: those the loader leaves out (row numbers, identifiers, empty columns) are written
  to `data.exclude`, each with the reason, so that the config keeps exactly the columns
  chosen here; the text columns (one-hot) and the number columns are listed in comments.
- Group keys (`group_key`): a column of whole numbers that looks like the id of a person or
  thing seen on several rows is written to `data.categorical` (with its own
  `data.max_categories` when it has more than 50 values), marked CHECK: one input per group.
- `data.path` is relative to the folder the config is written to (`out`'s; the working
  directory for stdout), computed as `load_config` resolves it: from the real folder.

Settings (the schema's defaults stay the tutorial's; `settings_for`): `n` training rows
(after the validation split), `f` model inputs.
- model: one hidden layer of 32 units below 1,000 rows, 64 below 50,000, else [128, 64];
  dropout 0.1 below 5,000 rows (small tables overfit), else 0;
- batch size 32 below 2,000 rows, 128 below 100,000, else 512;
- epochs: enough for about 3,000 optimizer steps, at least 20 and at most 200, and at most
  30 passes over a table of a million rows or more (the model kept is the epoch with the
  best validation loss, so extra epochs cost time, not quality);
- AdamW, lr 0.003, weight decay 0.01; pos_weight auto when a label's positive rate is
  below 20% (rare positives);
- val_fraction 0.1 below 1,000 labelled rows, else 0.2 (`val_fraction_for`: on a small table
  the rows a model learns from are worth more than a larger validation split; measured with
  `benchmarks.real_tables --splits 5`: penguins 0.9697 → 0.9770 ROC-AUC, breast_cancer
  0.9963 → 0.9967, participation 0.7479 → 0.7454).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sigmoidnet.config.data import DEFAULT_MAX_CATEGORIES
from sigmoidnet.errors import DataError, UsageError

__all__ = ["Starter", "config_folder_path", "run_name", "settings_for", "starter"]

#: the share of rows held out for validation (the best epoch, the metrics): on a table of
#: fewer than SMALL_TABLE labelled rows, SMALL_VAL_FRACTION
VAL_FRACTION = 0.2
SMALL_VAL_FRACTION = 0.1
SMALL_TABLE = 1000
#: a column of whole numbers is a group key (`group_key`) with at least GROUP_MIN and at most
#: GROUP_MAX distinct values, a spread of rows per value of at most GROUP_SPREAD times their
#: mean, and values that fill at most GROUP_DENSITY of their range
GROUP_MIN = 20
GROUP_MAX = 5000
GROUP_SPREAD = 0.5
GROUP_DENSITY = 0.5
SEED = 0
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4")
_TABLE_ENDINGS = (".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq")


@dataclass
class Starter:
    """The config text, and what the CLI shows beside it."""

    text: str
    columns: list[Any]  # sigmoidnet.data.table.ColumnInfo
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # the model and train sections
    config: dict[str, Any] = field(default_factory=dict)  # what `text` reads back into
    rows: int = 0  # rows with a label
    inputs: int = 0  # model inputs


def val_fraction_for(rows: int) -> float:
    """The validation share for a table of `rows` labelled rows."""
    return SMALL_VAL_FRACTION if rows < SMALL_TABLE else VAL_FRACTION


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
    model = {"hidden_sizes": hidden, "activation": "relu", "dropout": 0.1 if rows < 5000 else 0.0}
    return {"model": model, "train": train}


# ---------------------------------------------------------------------------------------------
# names and paths


def run_name(path: str) -> str:
    """A run name from a table's file name: its name without the table and compression
    endings (`sales.2024.csv.gz` → `sales.2024`), in the characters a run name allows."""
    from sigmoidnet.limits import MAX_NAME_LENGTH

    name = Path(path).name
    for endings in (_COMPRESSED, _TABLE_ENDINGS):
        low = name.lower()
        ext = next((e for e in endings if low.endswith(e)), None)
        if ext is not None:
            name = name[: -len(ext)]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    return name[:MAX_NAME_LENGTH].rstrip("-.") or "sigmoidnet"


def config_folder_path(data: str, folder: str) -> str:
    """`data` as a config in `folder` must name it: relative to the folder's real path (the
    one `load_config` resolves against), `/`-separated; absolute where no relative path
    exists (another drive)."""
    target = os.path.realpath(data)
    try:
        rel = os.path.relpath(target, os.path.realpath(folder or "."))
    except ValueError:  # pragma: no cover - another drive (Windows)
        return target
    return rel.replace(os.sep, "/")


# ---------------------------------------------------------------------------------------------
# labels


def _shown(v: object) -> str:
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


@dataclass(frozen=True)
class _Label:
    name: str
    positive: Any = None  # the value chosen for data.positive; None: it maps on its own
    why: str = ""  # for a chosen value


def _choose_label(name: str, col: Any, where: str) -> _Label:
    """The label's positive value, when its two values need one: the rarer, ties by value
    order. A label that cannot be one is the `DataError` training would give."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from sigmoidnet.data.table import label_error
    from sigmoidnet.preprocess.labels import LabelError, LabelMap

    try:
        LabelMap.fit(name, col)
        return _Label(name)
    except LabelError as e:
        error = e
    counts = pc.value_counts(col.drop_null())
    values = counts.field("values").to_pylist()
    freq = [int(c) for c in counts.field("counts").to_pylist()]
    if len(values) == 1:
        raise DataError(
            where, f"label column {name!r} holds one value, {_shown(values[0])}; a label needs two"
        )
    if len(values) != 2:  # three or more values, or no values: training's words
        raise label_error(where, name, error.what, None)
    text = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
    if not text:
        values = [float(v) for v in values]
    (n_pos, pos), (n_neg, _) = sorted(zip(freq, values, strict=True))
    value: Any = pos
    if not text and float(pos).is_integer() and abs(pos) < 2**53:
        value = int(pos)
    total = n_pos + n_neg
    why = (
        f"the rarer value ({n_pos:,} of {total:,} rows)"
        if n_pos != n_neg
        else f"the first in value order (as common as the other: {n_pos:,} rows each)"
    )
    return _Label(name, value, why)


def _labelled_rows(cols: list[Any]) -> int:
    """The rows with every label present (training drops the others)."""
    import pyarrow.compute as pc

    valid = cols[0].is_valid()
    for c in cols[1:]:
        valid = pc.and_(valid, c.is_valid())
    return int(pc.sum(valid).as_py() or 0)


def _read_columns(data: str, source: str, names: list[str], delim: str | None) -> Any:
    """The columns `names` of the file as a pyarrow table, typed as the readers type them."""
    import pyarrow as pa

    from sigmoidnet.data.formats.csv import CsvReader
    from sigmoidnet.data.formats.parquet import ParquetReader
    from sigmoidnet.data.messages import nearest

    reader: Any = CsvReader(data, delim) if source == "csv" else ParquetReader(data)
    for name in names:
        if name not in reader.columns:
            raise DataError(data, f"label column {name!r} not found{nearest(name, reader.columns)}")
    if source == "csv":
        return reader.table(names)
    return pa.Table.from_batches(list(reader.batches(names)))


def _label_columns(data: str, source: str, labels: list[str], delim: str | None) -> list[Any]:
    """Each label column as training reads it (missing values as null)."""
    from sigmoidnet.data.table import label_values

    table = _read_columns(data, source, labels, delim)
    return [label_values(table.column(n)) for n in labels]


# ---------------------------------------------------------------------------------------------
# group keys


@dataclass(frozen=True)
class _GroupKey:
    name: str
    groups: int  # distinct values
    rows: float  # rows per value, on average

    @property
    def capped(self) -> bool:
        """It needs a `data.max_categories` of its own (more values than the default)."""
        return self.groups > DEFAULT_MAX_CATEGORIES

    @property
    def what(self) -> str:
        return (
            f"{self.groups:,} whole numbers, each on about {self.rows:.0f} rows: a group key "
            "(the same person or thing on several rows), one input per group"
        )

    @property
    def why(self) -> str:
        also = " and its max_categories" if self.capped else ""
        return (
            f"{self.what}. CHECK: if new rows come from new groups, delete this line{also}, "
            "and exclude it"
        )


def group_key(name: str, col: Any) -> _GroupKey | None:
    """`col` (a column of numbers) as a group key, or None: whole numbers, at least
    `GROUP_MIN` distinct values that each come back on about as many rows (`GROUP_SPREAD`:
    the spread of the rows per value, relative to their mean), at least two on average, and
    sparse in their range (at most `GROUP_DENSITY` of it: an id drawn from a larger set, not
    a count or a day of the month). A panel of people seen each year is the case: the id
    read as a number is a meaningless order, read as a category it is each person's own
    effect (`benchmarks.real_tables`, males: 0.7993 → 0.89 ROC-AUC)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        return None
    values = col.drop_null()
    if len(values) == 0:
        return None
    if pa.types.is_floating(col.type):
        v = values.to_numpy(zero_copy_only=False)
        if not (np.isfinite(v).all() and (v == np.round(v)).all()):
            return None
    counts = np.asarray(pc.value_counts(values).field("counts").to_numpy(), dtype=np.float64)
    groups = len(counts)
    lo, hi = pc.min_max(values).values()
    span = float(hi.as_py()) - float(lo.as_py()) + 1.0
    mean = float(counts.mean())
    if groups < GROUP_MIN or mean < 2.0 or groups > GROUP_MAX:
        return None
    if float(counts.std()) > GROUP_SPREAD * mean or groups > GROUP_DENSITY * span:
        return None
    return _GroupKey(name, groups, mean)


def _group_keys(data: str, source: str, ds: Any, delim: str | None) -> list[_GroupKey]:
    """The number columns of the loaded table that are group keys (`group_key`)."""
    names = [c.name for c in ds.preprocessor.columns if c.kind == "numeric"]
    if not names:
        return []
    table = _read_columns(data, source, names, delim)
    keys = [group_key(n, table.column(n).combine_chunks()) for n in names]
    return [k for k in keys if k is not None]


# ---------------------------------------------------------------------------------------------
# the starter


def starter(data: str, labels: list[str], out: str | None = None) -> Starter:
    """The starter config for `data` (CSV or Parquet) with label columns `labels`; `out`:
    where it will be written (paths in it are relative to that file's folder; without it,
    to the working directory)."""
    from sigmoidnet.config import Config, DataConfig
    from sigmoidnet.data import detect_format, load_dataset
    from sigmoidnet.data.formats.csv import CsvReader
    from sigmoidnet.engine.setup import memory_check
    from sigmoidnet.fsutil import input_file_problem

    if not labels:
        raise UsageError("--label", "name at least one label column")
    dup = next((n for i, n in enumerate(labels) if n in labels[:i]), None)
    if dup is not None:
        raise UsageError("--label", f"{dup!r} is given twice")
    problem = input_file_problem(data)
    if problem is not None:
        raise DataError(data, problem)
    source = detect_format(data)
    if source not in ("csv", "parquet"):
        raise DataError(data, f"init reads CSV and Parquet tables, not {source}")
    delimiter = CsvReader(data).delimiter if source == "csv" else None
    label_cols = _label_columns(data, source, labels, delimiter)
    chosen = [_choose_label(n, c, data) for n, c in zip(labels, label_cols, strict=True)]
    positive = {c.name: c.positive for c in chosen if c.positive is not None}
    keys: dict[str, Any] = {"source": source, "path": os.path.realpath(data), "labels": labels}
    if delimiter is not None:
        keys["delimiter"] = delimiter
    if positive:
        keys["positive"] = positive
    keys["val_fraction"] = val_fraction_for(_labelled_rows(label_cols))
    stray: dict[str, str] = {}  # columns of numbers with a stray word: left out here
    while True:
        more: dict[str, Any] = {"exclude": list(stray)} if stray else {}
        cfg = DataConfig(**keys, **more)
        try:
            ds = load_dataset(cfg, SEED, memory_check(Config(data=cfg)))
            break
        except DataError as e:
            found = _stray_word(e, cfg.path or data, stray)
            if found is None:
                raise
            stray[found[0]] = found[1]
    groups = _group_keys(cfg.path or data, source, ds, delimiter)
    if groups:
        keys["categorical"] = [g.name for g in groups]
        caps = {g.name: g.groups for g in groups if g.capped}
        if caps:
            keys["max_categories"] = caps
        cfg = DataConfig(**keys, **more)
        ds = load_dataset(cfg, SEED, memory_check(Config(data=cfg)))
    for info in ds.columns:
        if info.name in stray:
            info.note = stray[info.name]
        for g in groups:
            if info.name == g.name:
                info.note = "a group key: one input per value"
    n_train = int(ds.x_train.shape[0])
    n = n_train + (0 if ds.x_val is None else int(ds.x_val.shape[0]))
    rates = [float(r) for r in ds.y_train.mean(dim=0).tolist()]
    settings = settings_for(n_train, ds.n_features, rates)
    folder = os.path.dirname(out) if out else "."
    config = _config(data, folder, ds, source, delimiter, positive, settings, cfg)
    text = _render(data, config, ds, chosen, settings, n, n_train, groups)
    _check_reads_back(text, config)
    notes = [f"{data}: column {g.name!r} read as categories: {g.what}" for g in groups]
    for note in ds.notes:
        note = note.replace(str(cfg.path), data)
        for name, why in stray.items():
            if note.endswith(f"column {name!r} left out: data.exclude"):
                note = note[: -len("data.exclude")] + why
        notes.append(note)
    return Starter(text, ds.columns, notes, settings, config, n, ds.n_features)


_STRAY_RE = re.compile(
    r"^column (?P<q>['\"])(?P<name>.*)(?P=q), row (?P<row>\d+): (?P<word>.*) is not a number, in "
    r"a column of numbers; fix it, or set data\.categorical: \[.*\] to read the column as "
    r"categories$"
)


def _stray_word(e: DataError, path: str, seen: dict[str, str]) -> tuple[str, str] | None:
    """(column, why it is left out) when `e` is the loader's refusal of a column of numbers
    with a stray word in it (`' '`, `?`, `n.a.`): the starter leaves such a column out, and
    says so, rather than reading numbers as categories."""
    m = _STRAY_RE.match(e.what) if e.where == path else None
    if m is None or m.group("name") in seen:
        return None
    why = (
        f"numbers, but row {m.group('row')} holds {m.group('word')}: CHECK: fix those cells "
        "(or list the column in data.categorical) and delete this line to use it"
    )
    return m.group("name"), why


def _config(
    data: str,
    folder: str,
    ds: Any,
    source: str,
    delimiter: str | None,
    positive: dict[str, Any],
    settings: dict[str, Any],
    cfg: Any,
) -> dict[str, Any]:
    """The config as plain data: what the text must read back into (`cfg`: the data section
    the table was loaded with)."""
    d: dict[str, Any] = {"source": source, "path": config_folder_path(data, folder)}
    d["labels"] = list(ds.label_names)
    if delimiter is not None:
        d["delimiter"] = delimiter
    if positive:
        d["positive"] = dict(positive)
    ignored = list(ds.preprocessor.ignored)
    if ignored:
        d["exclude"] = ignored
    if cfg.categorical:
        d["categorical"] = list(cfg.categorical)
    if cfg.category_caps:
        d["max_categories"] = dict(cfg.category_caps)
    d["val_fraction"] = cfg.val_fraction
    return {
        "name": run_name(data),
        "seed": SEED,
        "data": d,
        "model": dict(settings["model"]),
        "train": dict(settings["train"]),
    }


# ---------------------------------------------------------------------------------------------
# YAML


def _quote(v: object) -> str:
    """`v` as a YAML 1.2 scalar: a string double-quoted (every character that is not
    printable escaped), a number or boolean as it is."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    out = ['"']
    for ch in str(v):
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable() and ch not in "\u2028\u2029\ufeff":
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _comment(text: str) -> str:
    """`text` for a comment: one line, nothing a YAML reader refuses."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(text))


def _names(names: list[str], most: int = 10) -> str:
    shown = ", ".join(_comment(n) for n in names[:most])
    return shown + (f", ... ({len(names) - most} more)" if len(names) > most else "")


def _render(
    data: str,
    config: dict[str, Any],
    ds: Any,
    chosen: list[_Label],
    settings: dict[str, Any],
    rows: int,
    n_train: int,
    groups: list[_GroupKey],
) -> str:
    from sigmoidnet.data.messages import plural

    pre = ds.preprocessor
    d = config["data"]
    why = {c.name: c.note for c in ds.columns if c.kind == "left out"}
    maps = {m.name: m for m in pre.labels}
    n_val = rows - n_train
    lines = [
        f"# Starter config written by `sigmoidnet init` for {_comment(Path(data).name)}: "
        f"{rows:,} rows with a label,",
        f"# {plural(len(pre.raw_names), 'feature column')} → "
        f"{plural(pre.n_features, 'model input')}. Train it with "
        "`sigmoidnet train --config THIS_FILE`.",
        "# Every choice below is written out with the reason; change any of them.",
        f"name: {_quote(config['name'])}  # the run directory's name, from the file name",
        f"seed: {SEED}  # the held-out rows and the initial weights",
        "data:",
        f"  source: {d['source']}",
        f"  path: {_quote(d['path'])}  # relative to this file's folder",
        f"  labels: [{', '.join(_quote(x) for x in d['labels'])}]",
    ]
    if "delimiter" in d:
        lines.append(f"  delimiter: {_quote(d['delimiter'])}  # sniffed from the header and rows")
    pos_lines = []
    for c in chosen:
        m = maps[c.name]
        if c.positive is not None:
            lines.append(f"  # label {_comment(c.name)}: {_comment(m.describe())}")
            pos_lines.append(
                f"    {_quote(c.name)}: {_quote(c.positive)}  # {_comment(c.why)}; CHECK: is "
                "it the class you want probabilities of?"
            )
        elif m.kind == "binary":
            lines.append(f"  # label {_comment(c.name)}: {m.describe()}, 1 is positive")
        else:
            lines.append(
                f"  # label {_comment(c.name)}: {_comment(m.describe())} (an obvious pair, "
                "found on its own)"
            )
    if pos_lines:
        lines += ["  positive:  # which value of each label is the positive class (1)", *pos_lines]
    if "exclude" in d:
        lines.append("  exclude:  # left out (delete a line to use the column as a feature)")
        lines += [f"    - {_quote(c)}  # {_comment(why.get(c, ''))}" for c in d["exclude"]]
    if "categorical" in d:
        lines.append("  categorical:  # columns of numbers read as categories")
        why_group = {g.name: g.why for g in groups}
        lines += [f"    - {_quote(c)}  # {_comment(why_group[c])}" for c in d["categorical"]]
    if "max_categories" in d:
        caps = ", ".join(f"{_quote(k)}: {v}" for k, v in d["max_categories"].items())
        lines.append(
            f"  max_categories: {{{caps}}}  # every group its own input (other columns: at most"
            f" {DEFAULT_MAX_CATEGORIES})"
        )
    grouped = set(d.get("categorical", []))
    cats = [c for c in pre.text_names if c not in grouped]
    if cats:
        lines.append(
            f"  # categorical, one-hot (at most 50 values each, the rarer share one input): "
            f"{_names(cats)}"
        )
    nums = pre.numeric_names
    if nums:
        lines.append(f"  # numbers, standardized on the training rows: {_names(nums)}")
    if any(getattr(c, "indicator", False) for c in pre.columns):
        lines.append(
            "  # missing numbers: the training median, plus a 0/1 input saying it was missing"
        )
    lines += [
        f"  val_fraction: {config['data']['val_fraction']}  # {n_val:,} rows held out (seeded,"
        " stratified for one label): the best epoch, the metrics",
    ]
    model, train = settings["model"], settings["train"]
    lines += [
        f"# model and training: for a real table of {n_train:,} training rows and "
        f"{pre.n_features} inputs",
        "# (the schema's defaults are the tutorial's, for its 32 random rows)",
        "model:",
        f"  hidden_sizes: [{', '.join(str(h) for h in model['hidden_sizes'])}]",
        f"  activation: {model['activation']}",
        f"  dropout: {_quote(model['dropout'])}",
        "train:",
        f"  epochs: {train['epochs']}  # the model kept is the best validation loss's",
        f"  batch_size: {train['batch_size']}",
        f"  lr: {_quote(train['lr'])}",
        f"  optimizer: {train['optimizer']}",
        f"  weight_decay: {_quote(train['weight_decay'])}",
    ]
    if "pos_weight" in train:
        lines.append("  pos_weight: auto  # a label has few positives: weigh them up")
    return "\n".join(lines) + "\n"


def _check_reads_back(text: str, config: dict[str, Any]) -> None:
    """The text reads back (strict YAML, the schema) into exactly `config`: a mismatch is a
    bug in the writing above, not the user's problem."""
    from sigmoidnet.config import config_from_dict, parse_yaml

    got = parse_yaml(text, "<starter>")
    if got != config:  # pragma: no cover - a bug
        raise AssertionError(f"the starter config reads back as {got!r}, not {config!r}")
    config_from_dict(got, "<starter>")
