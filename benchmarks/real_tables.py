"""The config `sigmoidnet init` writes, against scikit-learn, on real-shaped tables.

    python -m benchmarks.real_tables [--out DIR]

For each table: split the raw file once (seeded, 75% / 25%) into a training file and a
held-out test file; run `sigmoidnet init train.csv --label L --out cfg.yaml`, `sigmoidnet
train --config cfg.yaml` and `sigmoidnet eval --data test.csv --json` (ROC-AUC on the test
file); fit scikit-learn's LogisticRegression and MLPClassifier on the same training file
(pandas, median imputation with missing indicators, standardized numbers, one-hot
categories: `ColumnTransformer`), scored on the same test file. Also trains a plain config
holding only `data` keys (the tutorial's defaults) on each, to show it runs.

Tables (nothing is downloaded: what is in the repo, or generated): the bundled penguins
(label `sex`, text values and missing ones, positive `female` as `init` picks the rarer),
the bundled breast cancer (numeric), and a 20,000-row synthetic export of the bench's mixed
shape (20 numeric columns with 5% empty cells, 10 text columns of 2-1,000 categories,
yes/no label). Needs pandas and scikit-learn (the dev extra).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SIGMOIDNET = [sys.executable, "-m", "sigmoidnet"]


def _run(*args: str) -> str:
    done = subprocess.run([*SIGMOIDNET, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"sigmoidnet {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _split(src: Path, folder: Path, seed: int = 0) -> tuple[Path, Path]:
    lines = src.read_text().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    rng = np.random.default_rng(seed)
    test = rng.random(len(body)) < 0.25
    train_f, test_f = folder / f"{src.stem}-train.csv", folder / f"{src.stem}-test.csv"
    train_f.write_text(header + "".join(r for r, t in zip(body, test, strict=True) if not t))
    test_f.write_text(header + "".join(r for r, t in zip(body, test, strict=True) if t))
    return train_f, test_f


def _sklearn(train: Path, test: Path, label: str, positive: Any) -> dict[str, float]:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    a, b = pd.read_csv(train), pd.read_csv(test)
    a, b = a[a[label].notna()], b[b[label].notna()]
    ya, yb = (a[label] == positive).to_numpy(int), (b[label] == positive).to_numpy(int)
    xa, xb = a.drop(columns=[label]), b.drop(columns=[label])
    cat = [c for c in xa.columns if not pd.api.types.is_numeric_dtype(xa[c])]
    num = [c for c in xa.columns if c not in cat]
    out = {}
    for name, clf in (
        ("logistic", LogisticRegression(max_iter=2000)),
        ("mlp", MLPClassifier(hidden_layer_sizes=(100,), max_iter=500, random_state=0)),
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


def _tables(folder: Path) -> list[tuple[Path, str, Any]]:
    from benchmarks.files import write_mixed_csv

    mixed = write_mixed_csv(folder / "export.csv", 20_000)
    return [
        (ROOT / "data" / "penguins.csv", "sex", "female"),
        (ROOT / "data" / "breast_cancer.csv", "malignant", 1),
        (mixed.path, mixed.label, "yes" if mixed.yes_no else 1),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    folder = args.out or Path(tempfile.mkdtemp(prefix="sigmoidnet-real-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{'table':<14} {'rows':>6} {'inputs':>6} {'init':>7} {'plain':>7} {'LR':>7} {'MLP':>7}")
    for src, label, positive in _tables(folder):
        train, test = _split(src, folder)
        cfg = folder / f"{src.stem}.yaml"
        _run("init", str(train), "--label", label, "--out", str(cfg), "--force")
        _run("train", "--config", str(cfg), "--out", str(folder / "runs"), "-q")
        run = folder / "runs" / "latest"
        report = json.loads(_run("eval", "--run", str(run), "--data", str(test), "--json"))
        ours = report["labels"][0]["roc_auc"]
        inputs = json.loads(_run("eval", "--run", str(run), "--json"))  # held-out: sanity
        del inputs
        plain = folder / f"{src.stem}-plain.yaml"
        pos = (
            f", positive: {{{label}: {json.dumps(positive)}}}" if isinstance(positive, str) else ""
        )
        plain.write_text(
            f"name: plain\ndata: {{source: csv, path: {train.name}, labels: [{label}]{pos}}}\n"
        )
        _run("train", "--config", str(plain), "--out", str(folder / "runs"), "-q")
        plain_auc = json.loads(
            _run("eval", "--run", str(folder / "runs" / "latest"), "--data", str(test), "--json")
        )["labels"][0]["roc_auc"]
        from sigmoidnet import artifact

        n_inputs = len(artifact.load(run / "model.safetensors").feature_names)
        rows = len(train.read_text().splitlines()) - 1
        sk = _sklearn(train, test, label, positive)
        print(
            f"{src.stem:<14} {rows:>6} {n_inputs:>6} {ours:>7.4f} {plain_auc:>7.4f} "
            f"{sk['logistic']:>7.4f} {sk['mlp']:>7.4f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
