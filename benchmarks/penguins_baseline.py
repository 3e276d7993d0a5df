"""The bundled penguins example (`configs/penguins.yaml`) against scikit-learn, on the same split.

    python -m benchmarks.penguins_baseline [--config configs/penguins.yaml] [--out DIR]

trains the config with the `sigmoidnet` CLI (into a temporary folder unless `--out` is
given), scores the run with `sigmoidnet eval --run RUN --json` on its own held-out rows, and
fits scikit-learn's `LogisticRegression` and, for information, `MLPClassifier` on the same
training rows, scored on the same held-out rows. The scikit-learn side reads the CSV with
pandas and encodes it itself (median imputation and standardization of the numbers, one-hot
categories), so that the only thing it shares with sigmoidnet is which rows are held out:
those are rebuilt from the raw file as `sigmoidnet.data` chooses them (rows without a label
dropped, then `split.val_mask` on the label with the config's `val_fraction` and `seed`).
`tests/test_penguins.py` checks that rebuild against `load_dataset` and holds the target
(sigmoidnet's validation accuracy at least LogisticRegression's).

Needs scikit-learn and pandas (the dev extra); sigmoidnet itself does not.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "penguins.yaml"


@dataclass
class RawSplit:
    """The config's training and held-out rows as pandas read them (features only), their
    0/1 labels, and which raw columns are categorical and numeric."""

    train: Any  # pandas.DataFrame
    val: Any  # pandas.DataFrame
    y_train: npt.NDArray[np.int64]
    y_val: npt.NDArray[np.int64]
    categorical: list[str]
    numeric: list[str]
    dropped: int  # rows without a label


def raw_split(config: Path = CONFIG) -> RawSplit:
    """The held-out split of `config`'s one-label CSV, rebuilt from the raw file."""
    import pandas as pd

    from sigmoidnet.config import load_config
    from sigmoidnet.data.split import val_mask

    cfg = load_config(config)
    data = cfg.data
    assert data.path is not None and data.labels is not None and len(data.labels) == 1
    (label,) = data.labels
    df = pd.read_csv(data.path)  # "NA" and empty cells are missing (NaN), as in sigmoidnet
    labelled = df[df[label].notna()].reset_index(drop=True)
    positive = (data.positive or {})[label]
    y = (labelled[label] == positive).to_numpy(dtype=np.int64)
    mask = val_mask(y[:, None].astype(np.float32), data.holdout, cfg.seed, data.path)
    assert mask is not None, "the config holds no rows out"
    feats = labelled.drop(columns=[label, *(data.exclude or [])])
    categorical = [c for c in feats.columns if not pd.api.types.is_numeric_dtype(feats[c])]
    numeric = [c for c in feats.columns if c not in categorical]
    return RawSplit(
        feats[~mask], feats[mask], y[~mask], y[mask], categorical, numeric, len(df) - len(labelled)
    )


def encoder(split: RawSplit) -> Any:
    """scikit-learn's own encoding: median-imputed numbers, one-hot categories, all scaled."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median", add_indicator=True), split.numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), split.categorical),
        ]
    )
    return make_pipeline(columns, StandardScaler())


def sklearn_scores(split: RawSplit, which: str, seed: int = 0) -> dict[str, float]:
    """Validation accuracy and ROC-AUC of `which` ("logistic" or "mlp") on `split`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline

    if which == "logistic":
        clf: Any = LogisticRegression(max_iter=1000)
    elif which == "mlp":
        clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=2000, random_state=seed)
    else:
        raise ValueError(which)
    model = make_pipeline(encoder(split), clf).fit(split.train, split.y_train)
    p = model.predict_proba(split.val)[:, 1]
    return {
        "accuracy": float(accuracy_score(split.y_val, p > 0.5)),
        "roc_auc": float(roc_auc_score(split.y_val, p)),
    }


def sigmoidnet_scores(config: Path, out: Path) -> dict[str, float]:
    """Train `config` with the CLI into `out`; the run's `eval --json` on its held-out rows."""
    cli = [sys.executable, "-m", "sigmoidnet"]
    subprocess.run([*cli, "train", "--config", str(config), "--out", str(out), "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    got = subprocess.run([*cli, "eval", "--run", str(out / "latest"), "--json"],
                         check=True, capture_output=True, text=True)  # fmt: skip
    (label,) = json.loads(got.stdout)["labels"]
    return {"accuracy": float(label["accuracy"]), "roc_auc": float(label["roc_auc"])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--out", type=Path, default=None, help="runs folder (default: a temp one)")
    args = ap.parse_args(argv)
    from sigmoidnet.config import load_config

    seed = load_config(args.config).seed
    split = raw_split(args.config)
    print(f"{args.config}: {len(split.train)} train / {len(split.val)} val rows "
          f"({split.dropped} without a label dropped)", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        ours = sigmoidnet_scores(args.config, args.out or Path(tmp))
    rows = {
        "sigmoidnet": ours,
        "LogisticRegression": sklearn_scores(split, "logistic", seed),
        "MLPClassifier (16,)": sklearn_scores(split, "mlp", seed),
    }
    print(f"{'model':<22}{'val accuracy':>14}{'val ROC-AUC':>13}")
    for name, s in rows.items():
        print(f"{name:<22}{s['accuracy']:>14.4f}{s['roc_auc']:>13.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
