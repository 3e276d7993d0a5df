"""Real tables, as a demanding user meets them, through the data layer and inference
(`load_dataset`, `iter_batches`, `evaluate_model`, `predict_file`, the artifact's save and
load): column kinds and their overrides, label rules, categories with their `<missing>` and
`<other>` slots, imputation with indicators, index and identifier columns, and the promise
that training and prediction turn the same rows into the same inputs, to the bit. Tiny
tables made in tmp_path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from sigmoidnet import artifact, inference
from sigmoidnet.activation import sigmoid_array
from sigmoidnet.artifact import Artifact
from sigmoidnet.config import Config
from sigmoidnet.data import Dataset, iter_batches
from sigmoidnet.data.split import val_mask
from sigmoidnet.model import MLP
from sigmoidnet.preprocess.columns import MISSING_SLOT, OTHER_SLOT
from tests.data.util import csv_cfg, data_error, load, make_cfg, write

F32 = npt.NDArray[np.float32]
TINY = {"hidden_sizes": [3]}


# ---------------------------------------------------------------------------------------------
# helpers


def table_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A comma-separated file; each cell written as given (`""` is an empty cell)."""
    lines = [",".join(header)] + [",".join(str(v) for v in r) for r in rows]
    return write(path, "\n".join(lines) + "\n")


def labels_csv(tmp_path: Path, values: Sequence[object]) -> str:
    """A feature `x` (the row number) and the label `y` holding `values`."""
    return table_csv(tmp_path / "labels.csv", ["x", "y"], [[i, v] for i, v in enumerate(values)])


def parquet_cfg(path: str, **data: Any) -> Config:
    model = data.pop("model", None)
    base: dict[str, Any] = {"source": "parquet", "path": path, "labels": ["y"]}
    base["val_fraction"] = 0.0
    base.update(data)
    return make_cfg(base, model)


def save_model(cfg: Config, ds: Dataset, path: Path, seed: int = 0) -> Artifact:
    """An untrained model of the config's shape, saved with the data's fitted preprocessor
    and loaded back (everything inference uses comes from the file)."""
    torch.manual_seed(seed)
    model = MLP(ds.n_features, cfg.model.hidden_sizes, ds.n_labels).eval()
    art = Artifact(
        model=model,
        config=cfg,
        feature_names=ds.feature_names,
        label_names=ds.label_names,
        thresholds=[0.5] * ds.n_labels,
        preprocessor=ds.preprocessor,
        heldout=None if ds.heldout is None else ds.heldout.to_dict(),
    )
    artifact.save(art, path)
    return artifact.load(path)


def trained(tmp_path: Path, cfg: Config) -> tuple[Dataset, Artifact, Path]:
    ds = load(cfg)
    ckpt = tmp_path / "model.safetensors"
    return ds, save_model(cfg, ds, ckpt), ckpt


def model_probs(art: Artifact, x: F32, batch_rows: int = 65536) -> npt.NDArray[np.float64]:
    """What predict computes from model inputs: float64 sigmoid of the float32 logits, one
    forward pass per batch of `batch_rows` rows, each in a matrix of its own, as predict
    encodes them (a float32 matrix product may round differently for another number of
    rows, or for rows that start at an address of another alignment)."""
    x = np.asarray(x, dtype=np.float32)
    with torch.inference_mode():
        logits = [
            art.model(torch.from_numpy(x[i : i + batch_rows].copy()))
            for i in range(0, len(x), batch_rows)
        ]
    return sigmoid_array(torch.cat(logits).numpy().astype(np.float64))


def predicted(
    ckpt: Path, data: str, tmp_path: Path, **kw: Any
) -> tuple[npt.NDArray[np.float64], list[str], pa.Table]:
    """(probabilities (n, L), notes, the whole output table) of `predict_file`."""
    out = tmp_path / "pred.parquet"
    stats = inference.predict_file(ckpt, data, out, **kw)
    table = pq.read_table(out)
    cols = [c for c in table.column_names if c.startswith("p_")]
    probs = np.column_stack([table.column(c).to_numpy() for c in cols])
    assert stats.rows == table.num_rows
    return probs, stats.notes, table


def encoded_by_predict_path(art: Artifact, path: str, batch_rows: int = 65536) -> F32:
    """Every row of `path` through predict's reading path and the stored preprocessor."""
    pre = art.preprocessor
    out = [
        pre.encode(b.raw(pre.raw_names)).x
        for b in iter_batches(
            path, pre, art.label_names, batch_rows=batch_rows, require_labels=False
        )
    ]
    return np.concatenate(out)


def kinds(ds: Dataset) -> dict[str, str]:
    return {c.name: c.kind for c in ds.preprocessor.columns}


def stored(ds_or_art: Dataset | Artifact, name: str) -> Any:
    return next(c for c in ds_or_art.preprocessor.columns if c.name == name)


def std32(values: npt.ArrayLike) -> tuple[np.float32, np.float32]:
    """Population mean and std of a column, in float64 then rounded to float32."""
    v = np.asarray(values, dtype=np.float32).astype(np.float64)
    std = v.std()
    return np.float32(v.mean()), np.float32(std if std > 0 else 1.0)


def standardized(value: float, mean: np.float32, std: np.float32) -> np.float32:
    """(value - mean) / std in float32, as the preprocessor applies it."""
    return np.float32((np.float32(value) - mean) / std)


# ---------------------------------------------------------------------------------------------
# column kinds and their overrides


def test_kinds_are_inferred_from_the_training_file(tmp_path: Path) -> None:
    rows = [
        [20, 1.5, "true", "basic", "yes"],
        [31, "", "false", "pro", "no"],
        [45, 2.5, "true", "", "no"],
        [52, 4.0, "false", "basic", "yes"],
    ]
    path = table_csv(tmp_path / "k.csv", ["age", "score", "smoker", "plan", "y"], rows)
    ds = load(csv_cfg(path))
    assert kinds(ds) == {
        "age": "numeric",
        "score": "numeric",
        "smoker": "boolean",
        "plan": "categorical",
    }
    table = {c.name: (c.kind, c.missing, c.categories) for c in ds.columns}
    assert table == {
        "age": ("numeric", 0, None),
        "score": ("numeric", 1, None),
        "smoker": ("boolean", 0, None),
        "plan": ("categorical", 1, 2),
        "y": ("label", 0, None),
    }
    assert ds.feature_names == [
        "age",
        "score",
        "score[missing]",
        "smoker",
        "plan=basic",
        "plan=pro",
        "plan=<missing>",
    ]
    assert "4 columns → 7 inputs, 1 label" in ds.description


def test_declared_categorical_reads_numbers_as_written(tmp_path: Path) -> None:
    path = table_csv(
        tmp_path / "c.csv", ["a", "zip", "y"], [[1, "007", 0], [2, 7, 1], [3, "007", 0]]
    )
    ds = load(csv_cfg(path, categorical=["zip"], normalize="none"))
    assert kinds(ds) == {"a": "numeric", "zip": "categorical"}
    assert ds.feature_names == ["a", "zip=007", "zip=7"]  # 007 stays 007, most frequent first
    assert ds.x_train[:, 1:].tolist() == [[1, 0], [0, 1], [1, 0]]
    # Parquet numbers declared categorical: their decimal form; a null is its own category
    t = pa.table({"s": [1.5, 2.0, None, 1.5], "y": [0, 1, 0, 1]})
    pq.write_table(t, tmp_path / "c.parquet")
    ds = load(parquet_cfg(str(tmp_path / "c.parquet"), categorical=["s"], normalize="none"))
    assert ds.feature_names == ["s=1.5", "s=2", "s=<missing>"]
    assert ds.x_train.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]


def test_declared_numeric_holding_text_names_the_row(tmp_path: Path) -> None:
    path = table_csv(tmp_path / "n.csv", ["a", "b", "y"], [[1, 2, 0], [2, 3, 1], [3, "zz", 0]])
    err = data_error(lambda: load(csv_cfg(path, numeric=["b"])))
    assert err.message == f"{path}: column 'b', row 3: 'zz' is not a number"


def stray_rows(n: int, words: dict[int, str]) -> list[list[object]]:
    return [[words.get(i, i * 3), i % 2] for i in range(n)]


@pytest.mark.parametrize("n", [20, 25])
def test_a_stray_word_in_a_column_of_numbers_is_refused_naming_its_row(
    tmp_path: Path, n: int
) -> None:
    path = table_csv(tmp_path / "s.csv", ["a", "y"], stray_rows(n, {7: "oops"}))
    err = data_error(lambda: load(csv_cfg(path)))
    assert err.message.startswith(f"{path}: column 'a', row 8: 'oops' is not a number")
    assert "data.categorical: [a]" in err.message
    # declared categorical: the word is one more category
    ds = load(csv_cfg(path, categorical=["a"]))
    assert kinds(ds) == {"a": "categorical"} and "a=oops" in ds.feature_names
    # declared numeric: the strict error, naming the row
    err = data_error(lambda: load(csv_cfg(path, numeric=["a"])))
    assert err.message == f"{path}: column 'a', row 8: 'oops' is not a number"


def test_the_stray_word_rule_needs_20_values_and_95_percent_numbers(tmp_path: Path) -> None:
    # 19 values: too few to call it a column of numbers, so categories
    path = table_csv(tmp_path / "few.csv", ["a", "y"], stray_rows(19, {7: "oops"}))
    assert kinds(load(csv_cfg(path))) == {"a": "categorical"}
    # 38 numbers of 40 (95%): refused; 37 of 40: categories
    path = table_csv(tmp_path / "two.csv", ["a", "y"], stray_rows(40, {7: "?", 9: "?"}))
    assert "row 8: '?' is not a number" in data_error(lambda: load(csv_cfg(path))).message
    path = table_csv(tmp_path / "three.csv", ["a", "y"], stray_rows(40, {7: "?", 9: "?", 11: "?"}))
    assert kinds(load(csv_cfg(path))) == {"a": "categorical"}
    # missing cells are not words, and do not count as values
    words = {7: "oops", 3: ""}
    path = table_csv(tmp_path / "gap.csv", ["a", "y"], stray_rows(25, words))
    assert "row 8: 'oops'" in data_error(lambda: load(csv_cfg(path))).message


# ---------------------------------------------------------------------------------------------
# labels

OBVIOUS = [
    ("yes", "no"),
    ("y", "n"),
    ("true", "false"),
    ("t", "f"),
    ("1", "0"),
    ("positive", "negative"),
]


@pytest.mark.parametrize("case", [str.lower, str.upper, str.title], ids=["lower", "upper", "title"])
@pytest.mark.parametrize("pair", OBVIOUS, ids=[p[0] for p in OBVIOUS])
def test_obvious_pairs_map_on_their_own(tmp_path: Path, pair: tuple[str, str], case: Any) -> None:
    pos, neg = case(pair[0]), case(pair[1])
    ds = load(csv_cfg(labels_csv(tmp_path, [pos, neg, neg, pos, neg])))
    assert ds.y_train[:, 0].tolist() == [1, 0, 0, 1, 0]


def test_case_variants_of_one_pair_in_one_column(tmp_path: Path) -> None:
    ds = load(csv_cfg(labels_csv(tmp_path, ["Yes", "yes", "No", "NO", "YES"])))
    assert ds.y_train[:, 0].tolist() == [1, 1, 0, 0, 1]


def test_another_pair_needs_data_positive(tmp_path: Path) -> None:
    path = labels_csv(tmp_path, ["cat", "dog", "dog", "cat"])
    msg = data_error(lambda: load(csv_cfg(path))).message
    assert msg.startswith(f"{path}: ") and "'cat'" in msg and "'dog'" in msg
    assert "data.positive: {y: " in msg
    ds = load(csv_cfg(path, positive={"y": "dog"}))
    assert ds.y_train[:, 0].tolist() == [0, 1, 1, 0]
    (m,) = ds.preprocessor.labels
    assert (m.kind, m.positive, m.negative) == ("text", "dog", "cat")
    msg = data_error(lambda: load(csv_cfg(path, positive={"y": "cow"}))).message
    assert "'cow'" in msg and "'cat'" in msg and "'dog'" in msg


@pytest.mark.parametrize("positive", [2, "2"])
def test_data_positive_for_two_numbers(tmp_path: Path, positive: object) -> None:
    path = labels_csv(tmp_path, [1, 2, 2, 1])
    msg = data_error(lambda: load(csv_cfg(path))).message
    assert "holds 1 and 2" in msg and "data.positive: {y: 2}" in msg
    ds = load(csv_cfg(path, positive={"y": positive}))
    assert ds.y_train[:, 0].tolist() == [0, 1, 1, 0]
    (m,) = ds.preprocessor.labels
    assert (m.kind, m.positive, m.negative) == ("number", 2.0, 1.0)


def test_data_positive_zero_in_a_parquet_file(tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0], "y": [0, 1, 1]}), tmp_path / "p.parquet")
    ds = load(parquet_cfg(str(tmp_path / "p.parquet"), positive={"y": 0}))
    assert ds.y_train[:, 0].tolist() == [1, 0, 0]


def test_data_positive_zero_in_a_numeric_csv_file(tmp_path: Path) -> None:
    path = table_csv(tmp_path / "p.csv", ["x", "y"], [[1, 0], [2, 1], [3, 1]])
    ds = load(csv_cfg(path, positive={"y": 0}))
    assert ds.y_train[:, 0].tolist() == [1, 0, 0]


def test_three_text_values_are_refused_naming_them(tmp_path: Path) -> None:
    path = labels_csv(tmp_path, ["yes", "no", "maybe", "no"])
    msg = data_error(lambda: load(csv_cfg(path))).message
    assert "3 distinct values ('maybe', 'no', 'yes')" in msg
    # case variants of one obvious pair are not three values, but y/yes/n are
    path = labels_csv(tmp_path, ["y", "yes", "n"])
    assert "3 distinct values" in data_error(lambda: load(csv_cfg(path))).message


def test_three_numbers_are_refused_naming_them(tmp_path: Path) -> None:
    path = labels_csv(tmp_path, [1, 2, 3, 1])
    msg = data_error(lambda: load(csv_cfg(path))).message
    assert "3 distinct values" in msg and "1, 2, 3" in msg


def test_data_positive_on_case_variants_of_an_obvious_pair(tmp_path: Path) -> None:
    path = labels_csv(tmp_path, ["Yes", "yes", "No"])
    ds = load(csv_cfg(path, positive={"y": "Yes"}))
    assert ds.y_train[:, 0].tolist() == [1, 1, 0]
    # the negative of an obvious pair may be named positive, in any case it is written
    ds = load(csv_cfg(path, positive={"y": "no"}))
    assert ds.y_train[:, 0].tolist() == [0, 0, 1]
    path = labels_csv(tmp_path, ["NO", "yes", "no"])
    ds = load(csv_cfg(path, positive={"y": "No"}))
    assert ds.y_train[:, 0].tolist() == [1, 0, 1]
    # a value that is not in the column is still refused
    msg = data_error(lambda: load(csv_cfg(path, positive={"y": "maybe"}))).message
    assert "has no value 'maybe' (named by data.positive)" in msg


def test_data_positive_in_a_numeric_csv_file_is_stored_and_applied(tmp_path: Path) -> None:
    path = table_csv(tmp_path / "p.csv", ["x", "y"], [[i, i % 2] for i in range(12)])
    ds, art, _ = trained(tmp_path, csv_cfg(path, model=TINY, positive={"y": 0}))
    assert ds.y_train[:, 0].tolist() == [1.0, 0.0] * 6  # 0 is the positive class
    (label,) = art.preprocessor.labels
    assert (label.kind, label.positive, label.negative) == ("number", 0.0, 1.0)


def test_rows_without_a_label_are_dropped_and_counted(tmp_path: Path) -> None:
    values = ["yes", "", "no", "NA", "yes", "null", "no"]
    path = labels_csv(tmp_path, values)
    ds = load(csv_cfg(path, normalize="none"))
    assert ds.x_train[:, 0].tolist() == [0, 2, 4, 6]  # the rows that have a label, in order
    assert ds.y_train[:, 0].tolist() == [1, 0, 1, 0]
    assert f"{path}: 3 rows without a label left out" in ds.notes
    label = next(c for c in ds.columns if c.kind == "label")
    assert label.missing == 3
    # Parquet: a null label
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0], "y": [1, None, 0]}), tmp_path / "l.parquet")
    ds = load(parquet_cfg(str(tmp_path / "l.parquet")))
    assert ds.y_train[:, 0].tolist() == [1, 0]
    assert any("1 row without a label left out" in n for n in ds.notes)
    # every label missing
    path = labels_csv(tmp_path, ["", "NA"])
    assert data_error(lambda: load(csv_cfg(path))).message == f"{path}: no rows with a label"


def test_eval_maps_labels_as_in_training_and_counts_rows_without_one(tmp_path: Path) -> None:
    path = labels_csv(tmp_path, ["cat", "dog", "dog", "cat", "dog"])
    _, _, ckpt = trained(tmp_path, csv_cfg(path, positive={"y": "dog"}, model=TINY))
    data = table_csv(
        tmp_path / "e.csv", ["y", "x"], [["dog", 1], ["", 2], ["cat", 3], ["dog", 4], ["NA", 0]]
    )
    result = inference.evaluate_model(checkpoint=ckpt, data=data)
    (label,) = result.report.to_dict()["labels"]
    assert label["n_rows"] == 3 and label["prevalence"] == pytest.approx(2 / 3)
    assert result.notes == [f"{data}: 2 rows without a label left out"]
    bad = table_csv(tmp_path / "bad.csv", ["x", "y"], [[1, "dog"], [2, "Dog"]])
    msg = data_error(lambda: inference.evaluate_model(checkpoint=ckpt, data=bad)).message
    assert (
        msg == f"{bad}: column 'y', row 2: label 'Dog' is not one the model knows ('dog' or 'cat')"
    )


def test_eval_of_an_obvious_pair_takes_any_case(tmp_path: Path) -> None:
    path = labels_csv(tmp_path, ["yes", "no", "no", "yes"])
    _, _, ckpt = trained(tmp_path, csv_cfg(path, model=TINY))
    data = table_csv(tmp_path / "e.csv", ["x", "y"], [[1, "YES"], [2, "No"], [3, "no"]])
    (label,) = inference.evaluate_model(checkpoint=ckpt, data=data).report.to_dict()["labels"]
    assert label["n_rows"] == 3 and label["prevalence"] == pytest.approx(1 / 3)


# ---------------------------------------------------------------------------------------------
# categories


def plan_rows(values: Sequence[str]) -> list[list[object]]:
    return [[v, i % 2] for i, v in enumerate(values)]


PLANS = ["a"] * 5 + ["b"] * 4 + ["d"] * 2 + ["c"] * 2 + ["e", ""]


def test_max_categories_of_one_column(tmp_path: Path) -> None:
    """A column's own cap (`max_categories: {COLUMN: N}`); the others keep 50, or `*`'s."""
    rows = [[p, p.upper() or "Z", i % 2] for i, (p, _) in enumerate(plan_rows(PLANS))]
    path = table_csv(tmp_path / "p.csv", ["plan", "tier", "y"], rows)
    plan3 = ["plan=a", "plan=b", "plan=c", f"plan={MISSING_SLOT}", f"plan={OTHER_SLOT}"]
    tier = ["tier=A", "tier=B", "tier=C", "tier=D", "tier=E", "tier=Z"]
    assert load(csv_cfg(path, max_categories={"plan": 3})).feature_names == plan3 + tier
    got = load(csv_cfg(path, max_categories={"plan": 3, "*": 1})).feature_names
    assert got == [*plan3, "tier=A", f"tier={OTHER_SLOT}"]
    full = load(csv_cfg(path, max_categories={"tier": 2, "plan": 100}))
    assert full.feature_names[:6] == [*(f"plan={v}" for v in "abcde"), f"plan={MISSING_SLOT}"]
    assert full.feature_names[6:] == ["tier=A", "tier=B", f"tier={OTHER_SLOT}"]
    # a column of numbers read as categories, every value its own input
    rows = [[i % 60, i % 2] for i in range(240)]
    path = table_csv(tmp_path / "n.csv", ["group", "y"], rows)
    ds = load(csv_cfg(path, categorical=["group"], max_categories={"group": 60}))
    assert ds.n_features == 60 and OTHER_SLOT not in "".join(ds.feature_names)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            {"max_categories": {"age": 5}},
            "data.max_categories names column 'age', a column of numbers; list it in "
            "data.categorical too to read it as categories",
        ),
        (
            {"max_categories": {"member": 5}},
            "data.max_categories names column 'member', a column of booleans",
        ),
        (
            {"max_categories": {"id": 5}},
            "data.max_categories names column 'id', which is left out (row numbers (distinct",
        ),
        (
            {"max_categories": {"plna": 5}},
            "data.max_categories names column 'plna', which the file does not have; did you "
            "mean 'plan'?",
        ),
        ({"categorical": ["cty"]}, "data.categorical names column 'cty', which the file does"),
        ({"numeric": ["agee"]}, "data.numeric names column 'agee', which the file does not"),
        ({"exclude": ["zz"]}, "data.exclude names column 'zz', which the file does not have"),
    ],
)
def test_a_column_a_key_names_must_be_one_it_can_apply_to(
    tmp_path: Path, keys: dict[str, Any], message: str
) -> None:
    header = ["id", "age", "plan", "member", "y"]
    rows = [[i, 20 + i % 30, "abc"[i % 3], str(i % 2 == 1).lower(), i % 2] for i in range(40)]
    path = table_csv(tmp_path / "t.csv", header, rows)
    err = data_error(lambda: load(csv_cfg(path, **keys)))
    assert err.message.startswith(f"{path}: {message}")


def test_slots_most_frequent_first_ties_by_value_then_missing(tmp_path: Path) -> None:
    path = table_csv(tmp_path / "p.csv", ["plan", "y"], plan_rows(PLANS))
    ds = load(csv_cfg(path))
    assert ds.feature_names == [
        "plan=a",
        "plan=b",
        "plan=c",
        "plan=d",
        "plan=e",
        "plan=<missing>",
    ]
    x = ds.x_train.numpy()
    assert x.dtype == np.float32 and set(np.unique(x).tolist()) == {0.0, 1.0}  # not standardized
    assert (x.sum(axis=1) == 1).all()
    assert x[-1].tolist() == [0, 0, 0, 0, 0, 1] and x[9].tolist() == [0, 0, 0, 1, 0, 0]
    spec = stored(ds, "plan")
    assert (spec.missing_slot, spec.other_slot, spec.n_categories) == (True, False, 5)


def test_more_than_max_categories_pools_the_rarer_ones_in_other(tmp_path: Path) -> None:
    path = table_csv(tmp_path / "p.csv", ["plan", "y"], plan_rows(PLANS))
    ds = load(csv_cfg(path, max_categories=3))
    names = ["plan=a", "plan=b", "plan=c", f"plan={MISSING_SLOT}", f"plan={OTHER_SLOT}"]
    assert ds.feature_names == names
    x = ds.x_train.numpy()
    hot = [names[int(np.argmax(r))] for r in x]
    expect = {"a": "plan=a", "b": "plan=b", "c": "plan=c", "": f"plan={MISSING_SLOT}"}
    assert hot == [expect.get(v, f"plan={OTHER_SLOT}") for v in PLANS]  # d and e pooled
    assert ds.notes == []  # pooled categories were seen: nothing to say
    # no missing value in training: no <missing> slot
    path = table_csv(tmp_path / "q.csv", ["plan", "y"], plan_rows([v for v in PLANS if v]))
    assert load(csv_cfg(path, max_categories=3)).feature_names == [
        "plan=a",
        "plan=b",
        "plan=c",
        f"plan={OTHER_SLOT}",
    ]


def test_categories_come_from_the_training_split_only(tmp_path: Path) -> None:
    train = table_csv(
        tmp_path / "t.csv", ["plan", "n", "y"], [["a", 1, 0], ["b", 2, 1], ["a", 3, 1]]
    )
    val = table_csv(tmp_path / "v.csv", ["plan", "n", "y"], [["c", 4, 0], ["", 5, 1], ["a", 6, 0]])
    ds = load(csv_cfg(train, val_path=val, val_fraction=None, normalize="none"))
    assert ds.feature_names == ["plan=a", "plan=b", "n"]
    assert ds.x_val is not None
    assert ds.x_val.tolist() == [[0, 0, 4], [0, 0, 5], [1, 0, 6]]
    assert ds.notes == [
        f"{val}: column 'plan': 2 values never seen in training (encoded as all zeros)"
    ]


UNSEEN_TRAIN = [["a", "x", 0], ["a", "x", 1], ["b", "y", 0], ["b", "z", 1], ["c", "x", 0]]
UNSEEN_NEW = [["a", "x"], ["q", "x"], ["r", "w"], ["", "x"], ["c", "x"], ["s", "x"]]


def unseen_model(tmp_path: Path, **data: Any) -> tuple[Artifact, Path, str]:
    path = table_csv(tmp_path / "t.csv", ["plan", "city", "y"], UNSEEN_TRAIN)
    _, art, ckpt = trained(tmp_path, csv_cfg(path, model=TINY, **data))
    data_path = table_csv(tmp_path / "n.csv", ["plan", "city"], UNSEEN_NEW)
    return art, ckpt, data_path


def test_unseen_categories_at_predict_go_to_other(tmp_path: Path) -> None:
    art, ckpt, data = unseen_model(tmp_path, max_categories=2)
    names = art.feature_names
    assert names == ["plan=a", "plan=b", "plan=<other>", "city=x", "city=y", "city=<other>"]
    probs, notes, _ = predicted(ckpt, data, tmp_path, batch_rows=2)
    x = np.zeros((len(UNSEEN_NEW), len(names)), dtype=np.float32)
    for i, (plan, city) in enumerate(UNSEEN_NEW):
        x[i, names.index(f"plan={plan}" if plan in ("a", "b") else "plan=<other>")] = 1
        x[i, names.index(f"city={city}" if city in ("x", "y") else "city=<other>")] = 1
    assert np.array_equal(probs, model_probs(art, x))
    # a missing value where training had none (no <missing> slot) is counted, as are the
    # never-seen categories (the next test)
    assert notes and notes[0].startswith(f"{data}: column 'plan': ")
    assert notes[0].endswith(" never seen in training (encoded as <other>)")


def test_unseen_categories_that_go_to_other_are_counted(tmp_path: Path) -> None:
    _, ckpt, data = unseen_model(tmp_path, max_categories=2)
    _, notes, _ = predicted(ckpt, data, tmp_path, batch_rows=2)
    # q, r, s never seen and one missing value (no <missing> slot); c was seen (pooled)
    assert notes == [
        f"{data}: column 'plan': 4 values never seen in training (encoded as <other>)",
        f"{data}: column 'city': 1 value never seen in training (encoded as <other>)",
    ]


def test_unseen_categories_without_an_other_slot_are_all_zeros_and_counted(
    tmp_path: Path,
) -> None:
    art, ckpt, data = unseen_model(tmp_path)
    names = art.feature_names
    assert names == ["plan=a", "plan=b", "plan=c", "city=x", "city=y", "city=z"]
    probs, notes, _ = predicted(ckpt, data, tmp_path, batch_rows=2)
    # q, r, s never seen, and a missing value (training had none: no <missing> slot)
    assert notes == [
        f"{data}: column 'plan': 4 values never seen in training (encoded as all zeros)",
        f"{data}: column 'city': 1 value never seen in training (encoded as all zeros)",
    ]
    x = np.zeros((len(UNSEEN_NEW), len(names)), dtype=np.float32)
    for i, (plan, city) in enumerate(UNSEEN_NEW):
        for col, v in (("plan", plan), ("city", city)):
            if f"{col}={v}" in names:
                x[i, names.index(f"{col}={v}")] = 1
    assert np.array_equal(probs, model_probs(art, x))
    # eval --data notes them the same way
    labelled = table_csv(
        tmp_path / "l.csv",
        ["plan", "city", "y"],
        [[p, c, i % 2] for i, (p, c) in enumerate(UNSEEN_NEW)],
    )
    result = inference.evaluate_model(checkpoint=ckpt, data=labelled)
    assert result.notes == [n.replace(data, labelled) for n in notes]


# ---------------------------------------------------------------------------------------------
# missing numbers

TOKENS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL"]


@pytest.mark.parametrize(("impute", "fill"), [("median", 3.0), ("mean", 4.25)])
def test_missing_numbers_get_the_median_or_the_mean_and_an_indicator(
    tmp_path: Path, impute: str, fill: float
) -> None:
    values = [*TOKENS, "1", "2", "4", "10"]
    rows = [[v, i, i % 2] for i, v in enumerate(values)]
    path = table_csv(tmp_path / "m.csv", ["a", "b", "y"], rows)
    ds = load(csv_cfg(path, impute=impute, normalize="none"))
    assert ds.feature_names == ["a", "a[missing]", "b"]  # b had nothing missing: no indicator
    x = ds.x_train.numpy()
    assert x[:, 0].tolist() == [fill] * 7 + [1, 2, 4, 10]
    assert x[:, 1].tolist() == [1] * 7 + [0] * 4
    assert stored(ds, "a").fill == fill and stored(ds, "a").indicator
    assert not stored(ds, "b").indicator


def test_a_median_of_floats_is_exact_and_standardization_sees_the_filled_column(
    tmp_path: Path,
) -> None:
    vals = [0.1, "", 0.7, 0.3, "NA", 1e-3, 2.5, 0.3]
    rows = [[v, i % 2] for i, v in enumerate(vals)]
    path = table_csv(tmp_path / "f.csv", ["a", "y"], rows)
    ds = load(csv_cfg(path))
    seen = np.array([v for v in vals if v not in ("", "NA")], dtype=np.float32)
    fill = np.float32(np.median(seen.astype(np.float64)))
    assert stored(ds, "a").fill == float(fill)
    filled = np.array([fill if v in ("", "NA") else np.float32(v) for v in vals], np.float32)
    mean, std = std32(filled)
    assert ds.preprocessor.mean_ is not None and ds.preprocessor.std_ is not None
    assert ds.preprocessor.mean_[0] == mean and ds.preprocessor.std_[0] == std
    expect = np.array([standardized(v, mean, std) for v in filled], np.float32)
    assert np.array_equal(ds.x_train[:, 0].numpy(), expect)
    assert ds.x_train[:, 1].tolist() == [0, 1, 0, 0, 1, 0, 0, 0]  # indicators are not standardized


def test_indicators_only_where_the_training_split_had_a_missing_value(tmp_path: Path) -> None:
    train = table_csv(tmp_path / "t.csv", ["a", "b", "y"], [[1, 2, 0], [3, 4, 1], [5, 6, 0]])
    val = table_csv(tmp_path / "v.csv", ["a", "b", "y"], [["", 7, 0], [9, "NA", 1]])
    ds = load(csv_cfg(train, val_path=val, val_fraction=None, normalize="none"))
    assert ds.feature_names == ["a", "b"]  # missing values in the validation rows only
    assert ds.x_val is not None and ds.x_val.tolist() == [[3, 7], [9, 4]]  # training medians


def test_impute_error_keeps_the_strict_behaviour(tmp_path: Path) -> None:
    path = table_csv(tmp_path / "m.csv", ["a", "b", "y"], [[1, 2, 0], [2, "", 1], [3, 4, 0]])
    err = data_error(lambda: load(csv_cfg(path, impute="error")))
    assert err.message == f"{path}: column 'b', row 2: missing value"
    # a model trained so refuses a missing value at predict, naming the row
    full = table_csv(tmp_path / "f.csv", ["a", "b", "y"], [[1, 2, 0], [2, 3, 1], [3, 4, 0]])
    _, art, ckpt = trained(tmp_path, csv_cfg(full, impute="error", model=TINY))
    assert all(c.fill is None for c in art.preprocessor.columns)
    data = table_csv(tmp_path / "p.csv", ["a", "b"], [[1, 2], ["NA", 3]])
    err = data_error(lambda: predicted(ckpt, data, tmp_path))
    assert err.message == f"{data}: column 'a', row 2: missing value"


def test_a_model_fills_a_column_that_had_nothing_missing_in_training(tmp_path: Path) -> None:
    path = table_csv(tmp_path / "t.csv", ["a", "y"], [[1, 0], [2, 1], [4, 0], [9, 1]])
    _, art, ckpt = trained(tmp_path, csv_cfg(path, model=TINY))
    assert art.feature_names == ["a"]
    data = table_csv(tmp_path / "p.csv", ["a"], [["NA"], [""]])
    probs, notes, _ = predicted(ckpt, data, tmp_path)
    mean, std = std32([1, 2, 4, 9])
    row = standardized(3.0, mean, std)  # the training median of 1, 2, 4, 9
    assert np.array_equal(probs, model_probs(art, np.array([[row], [row]], np.float32)))
    assert notes == []


@pytest.mark.parametrize("value", ["inf", "-inf"])
def test_inf_stays_an_error(tmp_path: Path, value: str) -> None:
    path = table_csv(
        tmp_path / "i.csv", ["a", "c", "y"], [[1, "x", 0], [value, "y", 1], [3, "x", 0]]
    )
    err = data_error(lambda: load(csv_cfg(path)))
    assert err.message == f"{path}: column 'a', row 2: {value} is not a finite number"
    ok = table_csv(tmp_path / "ok.csv", ["a", "c", "y"], [[1, "x", 0], [2, "y", 1], [3, "x", 0]])
    _, _, ckpt = trained(tmp_path, csv_cfg(ok, model=TINY))
    data = table_csv(tmp_path / "p.csv", ["a", "c"], [[1, "x"], [value, "x"]])
    err = data_error(lambda: predicted(ckpt, data, tmp_path))
    assert err.message == f"{data}: column 'a', row 2: {value} is not a finite number"


# ---------------------------------------------------------------------------------------------
# index and identifier columns


@pytest.mark.parametrize("name", ['""', "Unnamed: 0"])
def test_an_unnamed_first_column_is_left_out(tmp_path: Path, name: str) -> None:
    rows = [[i + 1, i * 1.5, ["a", "b"][i % 2], i % 2] for i in range(6)]
    path = table_csv(tmp_path / "u.csv", [name, "v", "c", "y"], rows)
    ds = load(csv_cfg(path))
    shown = name.strip('"')
    assert ds.feature_names == ["v", "c=a", "c=b"]
    assert ds.preprocessor.ignored == [shown]
    assert ds.notes == [f"{path}: column {shown!r} left out: an unnamed first column (row numbers)"]
    # an unnamed column that is not the first is data
    path = table_csv(tmp_path / "w.csv", ["v", name, "y"], [[r[1], r[0], r[3]] for r in rows])
    assert load(csv_cfg(path)).feature_names == ["v", shown]


@pytest.mark.parametrize("name", ["id", "ID", "index", "rownames"])
def test_a_column_of_row_numbers_is_left_out(tmp_path: Path, name: str) -> None:
    order = [3, 1, 2, 6, 4, 5]  # distinct consecutive integers, in any order
    rows = [[k, k * 0.5, k % 2] for k in order]
    path = table_csv(tmp_path / "i.csv", [name, "v", "y"], rows)
    ds = load(csv_cfg(path))
    assert ds.feature_names == ["v"]
    assert ds.notes == [
        f"{path}: column {name!r} left out: row numbers (distinct consecutive integers)"
    ]
    assert load(csv_cfg(path, numeric=[name])).feature_names == [name, "v"]  # declared: kept
    assert load(csv_cfg(path, features=[name, "v"])).feature_names == [name, "v"]
    # not consecutive: data
    gaps = table_csv(tmp_path / "g.csv", [name, "v", "y"], [[k * 2, k * 0.5, k % 2] for k in order])
    assert load(csv_cfg(gaps)).feature_names == [name, "v"]


def test_a_text_column_of_distinct_values_is_an_identifier(tmp_path: Path) -> None:
    def names(n: int) -> str:
        rows = [[f"n{i}", i * 1.5, i % 2] for i in range(n)]
        return table_csv(tmp_path / f"n{n}.csv", ["name", "v", "y"], rows)

    path = names(20)
    ds = load(csv_cfg(path))
    assert ds.feature_names == ["v"]
    assert ds.notes == [f"{path}: column 'name' left out: an identifier (every value is different)"]
    declared = load(csv_cfg(path, categorical=["name"]))
    assert len(declared.feature_names) == 21 and "name=n19" in declared.feature_names
    assert kinds(load(csv_cfg(names(19)))) == {"name": "categorical", "v": "numeric"}


def test_columns_left_out_in_training_are_passed_over_at_predict(tmp_path: Path) -> None:
    rows = [
        [i + 1, f"n{i}", i * 1.5, ["a", "b"][i % 3 % 2], "yes" if i % 2 else "no"]
        for i in range(20)
    ]
    path = table_csv(tmp_path / "t.csv", ['""', "name", "v", "c", "y"], rows)
    _, art, ckpt = trained(tmp_path, csv_cfg(path, model=TINY))
    assert art.preprocessor.ignored == ["", "name"] and art.preprocessor.raw_names == ["v", "c"]
    full, notes, _ = predicted(ckpt, path, tmp_path)
    assert notes == []
    bare = table_csv(tmp_path / "b.csv", ["c", "v"], [[r[3], r[2]] for r in rows])
    probs, _, _ = predicted(ckpt, bare, tmp_path)
    assert np.array_equal(probs, full)


# ---------------------------------------------------------------------------------------------
# identity: the same rows give the same inputs in training and at prediction, to the bit


def mixed_rows(n: int = 40) -> list[list[object]]:
    rng = np.random.default_rng(7)
    plans = ["basic", "pro", "team"]
    rows: list[list[object]] = []
    for i in range(n):
        age: object = "" if i % 7 == 3 else ("NA" if i == 11 else f"{rng.normal(40, 12):.3f}")
        income: object = int(rng.integers(1000, 9000))
        smoker = "true" if rng.random() < 0.4 else "false"
        plan = "" if i % 9 == 4 else ("gold" if i == 17 else plans[int(rng.integers(0, 3))])
        label = "" if i == 23 else ("yes" if rng.random() < 0.5 else "no")
        rows.append([i + 1, age, income, smoker, plan, label])
    return rows


MIXED_HEADER = ['""', "age", "income", "smoker", "plan", "y"]


@pytest.mark.parametrize("batch_rows", [65536, 7])
def test_training_and_prediction_encode_the_same_rows_to_the_bit(
    tmp_path: Path, batch_rows: int
) -> None:
    rows = mixed_rows()
    path = table_csv(tmp_path / "mixed.csv", MIXED_HEADER, rows)
    cfg = csv_cfg(path, val_fraction=0.25, model=TINY)
    ds, art, ckpt = trained(tmp_path, cfg)
    assert kinds(ds) == {
        "age": "numeric",
        "income": "numeric",
        "smoker": "boolean",
        "plan": "categorical",
    }
    assert "age[missing]" in ds.feature_names and "plan=<missing>" in ds.feature_names
    assert "income[missing]" not in ds.feature_names
    assert ds.x_val is not None
    # the split, as training made it: labelled rows, then the seeded mask
    labelled = np.array([r[-1] != "" for r in rows])
    y = np.array([[r[-1] == "yes"] for r in rows if r[-1] != ""], dtype=np.float32)
    mask = val_mask(y, 0.25, cfg.seed, path)
    assert mask is not None
    enc = encoded_by_predict_path(art, path, batch_rows)
    assert enc.dtype == np.float32 and enc.shape == (len(rows), ds.n_features)
    assert np.array_equal(enc[labelled][~mask], ds.x_train.numpy())
    assert np.array_equal(enc[labelled][mask], ds.x_val.numpy())
    # predict_file on the raw training file: the model applied to the training inputs
    x = enc.copy()
    rows_of = np.flatnonzero(labelled)
    x[rows_of[~mask]] = ds.x_train.numpy()
    x[rows_of[mask]] = ds.x_val.numpy()
    probs, notes, table = predicted(ckpt, path, tmp_path, batch_rows=batch_rows)
    assert np.array_equal(probs, model_probs(art, x, batch_rows))
    assert table.num_rows == len(rows)  # the row without a label is scored too
    gold_in_training = "plan=gold" in ds.feature_names
    assert (notes == []) == gold_in_training


def test_a_plain_numeric_file_is_the_same_through_the_c_parser_and_pyarrow(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(3)
    rows = [
        [f"{a:.9g}", f"{b:.17e}", i % 2] for i, (a, b) in enumerate(rng.normal(size=(30, 2)) * 1e3)
    ]
    path = table_csv(tmp_path / "num.csv", ["a", "b", "y"], rows)
    ds, art, ckpt = trained(tmp_path, csv_cfg(path, model=TINY))
    fast = encoded_by_predict_path(art, path)
    assert np.array_equal(fast, ds.x_train.numpy())
    # --keep sends the file through pyarrow: the same probabilities
    plain, _, _ = predicted(ckpt, path, tmp_path)
    kept, _, table = predicted(ckpt, path, tmp_path, keep=["y"])
    assert np.array_equal(plain, kept) and np.array_equal(
        plain, model_probs(art, ds.x_train.numpy())
    )
    assert table.column_names == ["y", "p_y", "y_pred"]


def test_an_unseen_category_and_a_missing_value_give_the_hand_built_input(
    tmp_path: Path,
) -> None:
    ages: list[object] = [23, 35, "", 41, 29, 52, "NA", 38, 44, 31]
    smokers = ["true", "false", "false", "true", "false", "false", "true", "false", "true", "false"]
    plans = ["basic", "pro", "basic", "", "team", "basic", "pro", "basic", "team", "pro"]
    labels = ["yes", "no", "no", "yes", "no", "yes", "no", "yes", "yes", "no"]
    rows = [list(r) for r in zip(ages, smokers, plans, labels, strict=True)]
    path = table_csv(tmp_path / "t.csv", ["age", "smoker", "plan", "y"], rows)
    _, art, ckpt = trained(tmp_path, csv_cfg(path, max_categories=2, model=TINY))
    names = [
        "age",
        "age[missing]",
        "smoker",
        "plan=basic",
        "plan=pro",
        "plan=<missing>",
        "plan=<other>",
    ]
    assert art.feature_names == names
    # the fitted numbers, computed here from the raw rows
    seen = np.array([a for a in ages if a not in ("", "NA")], np.float32)
    fill = np.float32(np.median(seen.astype(np.float64)))  # 37.0... of 8 values
    age_filled = [fill if a in ("", "NA") else np.float32(a) for a in ages]
    smoke = [1.0 if s == "true" else 0.0 for s in smokers]
    age_mean, age_std = std32(age_filled)
    smoke_mean, smoke_std = std32(smoke)
    pre = art.preprocessor
    assert stored(art, "age").fill == float(fill)
    assert pre.mean_ is not None and pre.std_ is not None
    assert pre.mean_.tolist() == [age_mean, smoke_mean] and pre.std_.tolist() == [
        age_std,
        smoke_std,
    ]
    assert stored(art, "plan").categories == ["basic", "pro"]
    # one new row: age missing, a plan never seen, a smoker
    data = table_csv(tmp_path / "p.csv", ["plan", "smoker", "age"], [["enterprise", "true", ""]])
    probs, notes, _ = predicted(ckpt, data, tmp_path)
    row = np.zeros((1, len(names)), np.float32)
    row[0, 0] = standardized(float(fill), age_mean, age_std)
    row[0, 1] = 1.0
    row[0, 2] = standardized(1.0, smoke_mean, smoke_std)
    row[0, names.index("plan=<other>")] = 1.0
    assert np.array_equal(probs, model_probs(art, row))
    # (the note this row should give: test_unseen_categories_that_go_to_other_are_counted)
    # a missing plan goes to <missing>; a pooled one (team) to <other>, uncounted
    data = table_csv(
        tmp_path / "q.csv", ["age", "smoker", "plan"], [[30, "false", ""], [30, "false", "team"]]
    )
    probs, notes, _ = predicted(ckpt, data, tmp_path)
    rows_x = np.zeros((2, len(names)), np.float32)
    rows_x[:, 0] = standardized(30.0, age_mean, age_std)
    rows_x[:, 2] = standardized(0.0, smoke_mean, smoke_std)
    rows_x[0, names.index("plan=<missing>")] = 1.0
    rows_x[1, names.index("plan=<other>")] = 1.0
    assert np.array_equal(probs, model_probs(art, rows_x))
    assert notes == []


# ---------------------------------------------------------------------------------------------
# Parquet, column order, type drift, missing and extra columns


def test_parquet_with_a_dictionary_column(tmp_path: Path) -> None:
    plan = pa.array(["x", "y", None, "x", "z", "x", "y", "x"]).dictionary_encode()
    n = pa.array([1.0, None, 3.0, float("nan"), 5.0, 6.0, 7.5, 8.0])
    y = pa.array(["yes", "no", "no", "yes", "yes", "no", "yes", "no"])
    pq.write_table(pa.table({"plan": plan, "n": n, "y": y}), tmp_path / "d.parquet")
    path = str(tmp_path / "d.parquet")
    ds, art, ckpt = trained(tmp_path, parquet_cfg(path, model=TINY))
    assert kinds(ds) == {"plan": "categorical", "n": "numeric"}
    assert ds.feature_names == ["plan=x", "plan=y", "plan=z", "plan=<missing>", "n", "n[missing]"]
    assert stored(ds, "n").fill == 5.5  # median of 1, 3, 5, 6, 7.5, 8: null and NaN are missing
    assert np.array_equal(encoded_by_predict_path(art, path), ds.x_train.numpy())
    probs, notes, _ = predicted(ckpt, path, tmp_path)
    assert np.array_equal(probs, model_probs(art, ds.x_train.numpy())) and notes == []
    # the same rows as a plain string column and as CSV: the same probabilities
    plain = pa.table({"n": n, "plan": plan.dictionary_decode()})
    pq.write_table(plain, tmp_path / "s.parquet")
    assert np.array_equal(predicted(ckpt, str(tmp_path / "s.parquet"), tmp_path)[0], probs)

    def cell(v: object) -> object:
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else v

    pairs = zip(n.to_pylist(), plain["plan"].to_pylist(), strict=True)
    csv_rows = [[cell(a), cell(b)] for a, b in pairs]
    data = table_csv(tmp_path / "s.csv", ["n", "plan"], csv_rows)
    assert np.array_equal(predicted(ckpt, data, tmp_path)[0], probs)


def test_parquet_numbers_as_text_declared_numeric(tmp_path: Path) -> None:
    t = pa.table({"s": ["1.5", "2", None, "4"], "y": [0, 1, 0, 1]})
    pq.write_table(t, tmp_path / "s.parquet")
    ds = load(parquet_cfg(str(tmp_path / "s.parquet"), numeric=["s"], normalize="none"))
    assert ds.feature_names == ["s", "s[missing]"]
    assert ds.x_train.tolist() == [[1.5, 0], [2, 0], [2, 1], [4, 0]]
    t = pa.table({"s": ["1.5", "2", "x3", "4"], "y": [0, 1, 0, 1]})
    pq.write_table(t, tmp_path / "x.parquet")
    err = data_error(lambda: load(parquet_cfg(str(tmp_path / "x.parquet"), numeric=["s"])))
    assert err.message == f"{tmp_path / 'x.parquet'}: column 's', row 3: 'x3' is not a number"


def test_parquet_empty_text_declared_numeric_is_filled(tmp_path: Path) -> None:
    t = pa.table({"s": ["1.5", "2", "", "4"], "y": [0, 1, 0, 1]})
    pq.write_table(t, tmp_path / "s.parquet")
    ds = load(parquet_cfg(str(tmp_path / "s.parquet"), numeric=["s"], normalize="none"))
    assert ds.x_train.tolist() == [[1.5, 0], [2, 0], [2, 1], [4, 0]]


def test_columns_in_any_order_and_int_float_drift_at_predict(tmp_path: Path) -> None:
    rows = [[20 + 3 * i, 1000 * (i % 4), ["a", "b", "c"][i % 3], i % 2] for i in range(12)]
    path = table_csv(tmp_path / "t.csv", ["age", "income", "plan", "y"], rows)
    _, _, ckpt = trained(tmp_path, csv_cfg(path, model=TINY))
    base, _, _ = predicted(ckpt, path, tmp_path)
    shuffled = [[r[2], f"{float(r[1]):.1f}", f"{float(r[0]):.2f}"] for r in rows]
    data = table_csv(tmp_path / "s.csv", ["plan", "income", "age"], shuffled)
    probs, notes, _ = predicted(ckpt, data, tmp_path)
    assert np.array_equal(probs, base) and notes == []
    # Parquet: trained on int64, predicted on float64 (and int32)
    t = pa.table({"a": pa.array([1, 5, 2, 8, 3, 9], pa.int64()), "y": [0, 1, 0, 1, 0, 1]})
    pq.write_table(t, tmp_path / "i.parquet")
    _, _, ckpt = trained(tmp_path, parquet_cfg(str(tmp_path / "i.parquet"), model=TINY))
    base, _, _ = predicted(ckpt, str(tmp_path / "i.parquet"), tmp_path)
    for typ in (pa.float64(), pa.int32(), pa.float32()):
        pq.write_table(pa.table({"a": t["a"].cast(typ)}), tmp_path / "f.parquet")
        assert np.array_equal(predicted(ckpt, str(tmp_path / "f.parquet"), tmp_path)[0], base)


def test_predict_output_keeps_the_input_order(tmp_path: Path) -> None:
    rows = [[f"r{i:02d}", i * 1.5, ["a", "b"][i % 2], "yes" if i % 3 else "no"] for i in range(9)]
    path = table_csv(tmp_path / "t.csv", ["key", "v", "c", "y"], rows)
    _, _, ckpt = trained(tmp_path, csv_cfg(path, exclude=["key"], model=TINY))
    order = [4, 0, 8, 2, 7, 1, 6, 3, 5]
    data = table_csv(
        tmp_path / "o.csv", ["key", "c", "v"], [[rows[i][0], rows[i][2], rows[i][1]] for i in order]
    )
    probs, _, table = predicted(ckpt, data, tmp_path, keep=["key"], batch_rows=2)
    assert table.column("key").to_pylist() == [f"r{i:02d}" for i in order]
    full, _, _ = predicted(ckpt, path, tmp_path)
    assert np.array_equal(probs, full[order])


def test_a_missing_column_is_an_error_and_an_extra_one_needs_keep(tmp_path: Path) -> None:
    rows = [[20 + i, ["a", "b"][i % 2], "yes" if i % 3 else "no"] for i in range(6)]
    path = table_csv(tmp_path / "t.csv", ["age", "plan", "y"], rows)
    _, _, ckpt = trained(tmp_path, csv_cfg(path, model=TINY))
    gone = table_csv(tmp_path / "g.csv", ["plan"], [["a"], ["b"]])
    err = data_error(lambda: predicted(ckpt, gone, tmp_path))
    assert err.message.startswith(f"{gone}: column 'age' is missing")
    err = data_error(lambda: inference.evaluate_model(checkpoint=ckpt, data=gone))
    assert err.message == f"{gone}: label column 'y' is missing"
    gone = table_csv(tmp_path / "h.csv", ["plan", "y"], [["a", "yes"], ["b", "no"]])
    err = data_error(lambda: inference.evaluate_model(checkpoint=ckpt, data=gone))
    assert err.message == f"{gone}: column 'age' is missing"
    extra = table_csv(tmp_path / "e.csv", ["age", "plan", "note"], [[21, "a", "x"], [22, "b", "y"]])
    err = data_error(lambda: predicted(ckpt, extra, tmp_path))
    assert err.message.startswith(f"{extra}: extra column 'note' not seen in training")
    _, _, table = predicted(ckpt, extra, tmp_path, keep=["note"])
    assert table.column_names == ["note", "p_y", "y_pred"]
    assert table.column("note").to_pylist() == ["x", "y"]
    # eval: --ignore passes over it
    labelled = table_csv(
        tmp_path / "l.csv",
        ["age", "plan", "note", "y"],
        [[21, "a", "x", "yes"], [22, "b", "y", "no"]],
    )
    err = data_error(lambda: inference.evaluate_model(checkpoint=ckpt, data=labelled))
    assert "extra column 'note'" in err.message
    result = inference.evaluate_model(checkpoint=ckpt, data=labelled, ignore=["note"])
    assert result.report.to_dict()["labels"][0]["n_rows"] == 2


def test_a_label_column_at_predict_is_passed_over(tmp_path: Path) -> None:
    rows = [[20 + i, ["a", "b"][i % 2], "yes" if i % 3 else "no"] for i in range(6)]
    path = table_csv(tmp_path / "t.csv", ["age", "plan", "y"], rows)
    _, _, ckpt = trained(tmp_path, csv_cfg(path, model=TINY))
    base, _, _ = predicted(ckpt, path, tmp_path)
    odd = table_csv(tmp_path / "o.csv", ["age", "plan", "y"], [[*r[:2], "maybe"] for r in rows])
    assert np.array_equal(predicted(ckpt, odd, tmp_path)[0], base)


def test_text_in_a_numeric_column_at_predict_names_the_row(tmp_path: Path) -> None:
    rows = [[20 + i, ["a", "b"][i % 2], i % 2] for i in range(6)]
    path = table_csv(tmp_path / "t.csv", ["age", "plan", "y"], rows)
    _, _, ckpt = trained(tmp_path, csv_cfg(path, model=TINY))
    data = table_csv(tmp_path / "p.csv", ["age", "plan"], [[21, "a"], [22, "b"], ["old", "a"]])
    err = data_error(lambda: predicted(ckpt, data, tmp_path))
    assert err.message == f"{data}: column 'age', row 3: 'old' is not a number"


# ---------------------------------------------------------------------------------------------
# the artifact carries the schema


def test_the_artifact_carries_the_input_schema(tmp_path: Path) -> None:
    path = table_csv(tmp_path / "mixed.csv", MIXED_HEADER, mixed_rows())
    ds, art, _ = trained(
        tmp_path, csv_cfg(path, val_fraction=0.25, positive={"y": "no"}, model=TINY)
    )
    assert art.format_version == 4
    pre, fitted = art.preprocessor, ds.preprocessor
    assert pre.table and pre.columns == fitted.columns and pre.labels == fitted.labels
    assert pre.ignored == [""] and pre.feature_names == fitted.feature_names == art.feature_names
    assert pre.impute == "median" and pre.max_categories == 50
    assert pre.mean_ is not None and fitted.mean_ is not None
    assert np.array_equal(pre.mean_, fitted.mean_)
    (label,) = pre.labels
    assert (label.kind, label.positive, label.negative) == ("text", "no", "yes")


def test_a_val_path_file_is_read_with_the_training_files_kinds(tmp_path: Path) -> None:
    # the val file on its own would look different (all numbers, a word): the training
    # file's kinds and label mapping hold
    train = table_csv(
        tmp_path / "t.csv", ["code", "n", "y"], [["a", 1, "yes"], ["b", 2, "no"], ["a", 3, "yes"]]
    )
    val = table_csv(tmp_path / "v.csv", ["code", "n", "y"], [[1, 4, "No"], ["a", 5, "YES"]])
    ds = load(csv_cfg(train, val_path=val, val_fraction=None, normalize="none"))
    assert ds.x_val is not None and ds.y_val is not None
    assert ds.x_val.tolist() == [[0, 0, 4], [1, 0, 5]]
    assert ds.y_val[:, 0].tolist() == [0, 1]
    short = table_csv(tmp_path / "w.csv", ["code", "y"], [["a", "yes"]])
    err = data_error(lambda: load(csv_cfg(train, val_path=short, val_fraction=None)))
    assert err.message.startswith(f"{short}: ") and "'n'" in err.message


def test_cells_of_spaces_in_a_column_of_numbers_are_missing(tmp_path: Path) -> None:
    # the Telco table's TotalCharges: numbers and a few blank cells (" "), read as text by
    # the CSV reader; the column is numeric, the blanks filled and indicated
    rows = [[i, " " if i % 7 == 3 else f"{i * 2.5}", i % 2] for i in range(30)]
    path = table_csv(tmp_path / "t.csv", ["a", "tc", "y"], rows)
    ds, art, ckpt = trained(tmp_path, csv_cfg(path, model=TINY, normalize="none"))
    assert art.feature_names == ["a", "tc", "tc[missing]"]
    info = next(c for c in ds.columns if c.name == "tc")
    assert (info.kind, info.missing) == ("numeric", 4)
    fill = art.preprocessor.columns[1].fill
    data = table_csv(tmp_path / "n.csv", ["a", "tc"], [[1, "  "], [2, " 4.5 "], [3, ""]])
    probs, notes, _ = predicted(ckpt, data, tmp_path)
    x = np.array([[1, fill, 1], [2, 4.5, 0], [3, fill, 1]], dtype=np.float32)
    assert np.array_equal(probs, model_probs(art, x)) and notes == []


def test_the_columns_table_counts_the_rows_that_have_a_label(tmp_path: Path) -> None:
    # row 2 has no label (left out): its empty age and plan are not counted as missing
    rows = [[30, "a", "yes"], ["", "", ""], ["", "b", "no"], [41, "", "yes"], [50, "a", "no"]]
    path = table_csv(tmp_path / "t.csv", ["age", "plan", "y"], rows)
    ds = load(csv_cfg(path))
    missing = {c.name: c.missing for c in ds.columns}
    assert missing == {"age": 1, "plan": 1, "y": 1}
