"""A real table's preprocessor: fills, indicators, vocabularies and their slots, the model
inputs they give, and the state the artifact stores."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sigmoidnet.preprocess import Preprocessor, PreprocessorStateError
from sigmoidnet.preprocess.columns import ColumnSpec, MissingValueError, RawBlock
from sigmoidnet.preprocess.labels import LabelMap

NAN = np.nan


def block(nums: list[list[float]], **text: list[str | None]) -> RawBlock:
    x = np.array(nums, dtype=np.float32).reshape(len(nums), -1)
    names = ["age", "bal"][: x.shape[1]]
    return RawBlock(len(x), x, names, {k: pa.array(v, pa.string()) for k, v in text.items()})


def fitted(
    impute: str = "median", max_categories: int = 50, caps: dict[str, int] | None = None
) -> Preprocessor:
    cols = [ColumnSpec("age", "numeric"), ColumnSpec("plan", "categorical"),
            ColumnSpec("bal", "numeric")]  # fmt: skip
    pre = Preprocessor.for_table(
        cols,
        [LabelMap("y", "binary")],
        impute=impute,
        max_categories=max_categories,
        category_caps=caps,
    )
    train = block(
        [[30, 1], [NAN, 2], [50, 3], [40, 4], [20, 5]],
        plan=["basic", "gold", "basic", None, "silver"],
    )
    return pre.fit_block(train)


def test_inputs_fills_and_slots() -> None:
    pre = fitted()
    assert pre.feature_names == [
        "age", "age[missing]", "plan=basic", "plan=gold", "plan=silver", "plan=<missing>", "bal",
    ]  # fmt: skip
    age, plan, bal = pre.columns
    assert age.fill == 35.0 and age.indicator  # median of 30, 50, 40, 20
    assert bal.fill == 3.0 and not bal.indicator  # no missing value in training
    assert plan.categories == ["basic", "gold", "silver"] and plan.missing_slot
    assert not plan.other_slot and plan.n_categories == 3
    assert fitted("mean").columns[0].fill == 35.0
    strict = Preprocessor.for_table([ColumnSpec("age", "numeric")], [], impute="error")
    strict.fit_block(block([[30], [50]]))
    assert strict.columns[0].fill is None and strict.feature_names == ["age"]


def test_a_column_s_own_cap_wins_over_max_categories() -> None:
    assert fitted(max_categories=1, caps={"plan": 2}).columns[1].categories == ["basic", "gold"]
    assert fitted(max_categories=50, caps={"plan": 1}).columns[1].categories == ["basic"]
    assert fitted(max_categories=1, caps={"other": 5}).columns[1].categories == ["basic"]
    # the caps are a fit parameter: the state keeps the vocabularies and max_categories
    meta, arrays = fitted(max_categories=1, caps={"plan": 2}).state()
    again = Preprocessor.from_state(meta, arrays)
    assert again.columns[1].categories == ["basic", "gold"] and again.max_categories == 1


def test_encode_standardizes_numbers_only_and_counts_unseen() -> None:
    pre = fitted()
    assert pre.mean_ is not None and pre.std_ is not None and pre.mean_.shape == (2,)
    enc = pre.encode(block([[NAN, 3], [60, NAN]], plan=["platinum", None]))
    x = enc.x
    # age: the fill, standardized; indicator 1; then 60 standardized, indicator 0
    want_age = (np.float32([35, 60]) - pre.mean_[0]) / pre.std_[0]
    np.testing.assert_array_equal(x[:, 0], want_age.astype(np.float32))
    assert x[:, 1].tolist() == [1.0, 0.0]
    # an unseen category with no <other> slot: all zeros, counted; None: the <missing> slot
    assert x[0, 2:6].tolist() == [0, 0, 0, 0] and x[1, 2:6].tolist() == [0, 0, 0, 1]
    assert enc.unseen == {"plan": 1}
    # bal had no missing value in training, but has a fill value: no indicator input
    assert x[1, 6] == np.float32((np.float32(3.0) - pre.mean_[1]) / pre.std_[1])


def test_other_slot_pools_the_rare_categories() -> None:
    pre = fitted(max_categories=1)
    plan = pre.columns[1]
    assert plan.categories == ["basic"] and plan.other_slot and plan.n_categories == 3
    assert pre.feature_names[2:5] == ["plan=basic", "plan=<missing>", "plan=<other>"]
    enc = pre.encode(block([[1, 1], [1, 1], [1, 1]], plan=["gold", "new", "basic"]))
    assert enc.x[:, 2:5].tolist() == [[0, 0, 1], [0, 0, 1], [1, 0, 0]]
    # pooled and new categories share <other>; the pooled ones are stored, so the new one
    # is counted (a format-3 model, which has no `pooled`, counts none)
    assert plan.pooled is not None and "gold" in plan.pooled and "new" not in plan.pooled
    assert enc.unseen == {"plan": 1}
    plan.pooled = None
    assert pre.encode(block([[1, 1]], plan=["new"])).unseen == {}


def test_missing_without_a_fill_value_is_refused() -> None:
    pre = Preprocessor.for_table(
        [ColumnSpec("age", "numeric"), ColumnSpec("bal", "numeric")], [], impute="error"
    ).fit_block(block([[1, 2], [3, 4]]))
    with pytest.raises(MissingValueError) as e:
        pre.encode(block([[1, 2], [1, NAN]]))
    assert (e.value.column, e.value.index) == ("bal", 1)


def test_columns_in_another_order_in_the_block() -> None:
    pre = fitted()
    b = block([[30, 1]], plan=["gold"])
    swapped = RawBlock(1, b.numbers[:, ::-1].copy(), ["bal", "age"], b.text)
    np.testing.assert_array_equal(pre.encode(swapped).x, pre.encode(b).x)
    assert pre.encode(block([[30, 1]], plan=["gold"])).x[0, 3] == 1.0


def test_state_round_trip_is_exact() -> None:
    pre = fitted()
    meta, arrays = pre.state()
    assert sorted(arrays) == ["fill", "mean", "std"]
    again = Preprocessor.from_state(meta, arrays)

    def b() -> RawBlock:  # encode overwrites the block's numbers: one block per call
        return block([[NAN, 3], [60, NAN]], plan=["platinum", "gold"])

    np.testing.assert_array_equal(again.encode(b()).x, pre.encode(b()).x)
    assert again.labels == pre.labels and again.columns == pre.columns


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: m["columns"][1].update(categories=["basic", "basic"]),
        lambda m: m.update(feature_names=m["feature_names"][:-1]),
        lambda m: m.update(impute="sometimes"),
        lambda m: m.pop("labels"),
        lambda m: m["columns"][0].update(kind="date"),
        lambda m: m.update(ignored=["age"]),
    ],
)
def test_bad_state_is_refused(tamper: object) -> None:
    meta, arrays = fitted().state()
    tamper(meta)  # type: ignore[operator]
    with pytest.raises(PreprocessorStateError):
        Preprocessor.from_state(meta, arrays)


def test_fill_values_must_agree_with_impute() -> None:
    meta, arrays = fitted().state()
    with pytest.raises(PreprocessorStateError, match="fill values"):
        Preprocessor.from_state(meta, {k: v for k, v in arrays.items() if k != "fill"})
    bad = dict(arrays, fill=np.float32([np.nan, 1.0]))
    with pytest.raises(PreprocessorStateError, match="not finite"):
        Preprocessor.from_state(meta, bad)


def test_pooled_round_trips_and_a_wrong_one_is_refused() -> None:
    plan = fitted(max_categories=1).columns[1]
    d = plan.to_dict()
    assert d["pooled"] == plan.pooled and ColumnSpec.from_dict(d).pooled == plan.pooled
    old = {k: v for k, v in d.items() if k != "pooled"}  # format 3: no `pooled`
    assert ColumnSpec.from_dict(old).pooled is None
    for bad in (
        [*d["pooled"], "extra"],  # more values than n_categories - kept
        [d["categories"][0], *d["pooled"][1:]],  # a kept category
        [1] * len(d["pooled"]),  # not text
        "gold",
    ):
        with pytest.raises(ValueError, match="bad categorical column"):
            ColumnSpec.from_dict({**d, "pooled": bad})
