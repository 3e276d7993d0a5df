"""The label mapping: obvious pairs, data.positive, and what is refused."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sigmoidnet.preprocess.labels import LabelError, LabelMap


def text(*values: str | None) -> pa.Array:
    return pa.array(list(values), pa.string())


@pytest.mark.parametrize(
    ("pos", "neg"),
    [
        ("yes", "no"),
        ("Y", "N"),
        ("TRUE", "False"),
        ("t", "f"),
        ("1", "0"),
        ("Positive", "negative"),
    ],
)
def test_obvious_pairs_map_on_their_own(pos: str, neg: str) -> None:
    m = LabelMap.fit("y", text(neg, pos, None, neg))
    assert (m.kind, m.positive, m.negative, m.casefold) == ("text", pos, neg, True)
    y = m.map(text(pos, neg, None, pos.upper()))
    assert y[:2].tolist() == [1.0, 0.0] and np.isnan(y[2]) and y[3] == 1.0


def test_case_variants_of_one_obvious_pair_are_one_pair() -> None:
    m = LabelMap.fit("churn", text("Yes", "yes", "No"))
    assert m.map(text("YES", "no")).tolist() == [1.0, 0.0]


def test_any_other_pair_needs_data_positive() -> None:
    with pytest.raises(LabelError) as e:
        LabelMap.fit("sex", text("male", "female", "male"))
    assert e.value.what == (
        "holds 'female' and 'male'; say which is the positive class with "
        "data.positive: {sex: female}"
    )
    m = LabelMap.fit("sex", text("male", "female"), positive="female")
    assert m.describe() == "'female' = 1, 'male' = 0"
    assert m.map(text("female", "male", None)).tolist()[:2] == [1.0, 0.0]
    with pytest.raises(
        LabelError, match=r"has no value 'Female' \(named by data\.positive\); it holds"
    ):
        LabelMap.fit("sex", text("male", "female"), positive="Female")


def test_three_values_are_refused_naming_them() -> None:
    with pytest.raises(LabelError, match=r"holds 3 distinct values \('a', 'b', 'c'\)"):
        LabelMap.fit("y", text("a", "b", "c"))


def test_a_value_the_model_does_not_know_names_its_row() -> None:
    m = LabelMap.fit("y", text("yes", "no"))
    with pytest.raises(LabelError) as e:
        m.map(text("yes", "maybe"))
    assert e.value.index == 1 and "'maybe' is not one the model knows" in e.value.what


def test_numbers_zero_one_true_false_and_other_pairs() -> None:
    assert LabelMap.fit("y", pa.array([0, 1, None])).kind == "binary"
    assert LabelMap.fit("y", pa.array([True, False])).kind == "binary"
    with pytest.raises(LabelError, match=r"holds 1 and 2; .*data.positive: \{y: 2\}"):
        LabelMap.fit("y", pa.array([1, 2, 2]))
    m = LabelMap.fit("y", pa.array([1, 2, 2]), positive=2)
    assert (m.kind, m.positive, m.negative) == ("number", 2.0, 1.0)
    assert m.map(pa.array([2.0, 1.0, None])).tolist()[:2] == [1.0, 0.0]
    with pytest.raises(LabelError) as e:
        LabelMap.fit("y", pa.array([0, 1, 7]))
    assert e.value.index == 2 and e.value.what == (
        "label must be 0 or 1, got 7 (the column holds 3 distinct values: 0, 1, 7)"
    )
    with pytest.raises(LabelError) as e:
        m.map(pa.array([1, 3]))
    assert e.value.index == 1 and e.value.what == "label must be 2 or 1, got 3"


def test_state_round_trips_and_bad_state_is_refused() -> None:
    for m in (
        LabelMap("y", "binary"),
        LabelMap("y", "text", "Yes", "No", True),
        LabelMap("y", "number", 2.0, 1.0),
    ):
        assert LabelMap.from_dict(m.to_dict()) == m
    for bad in (
        {"name": "y", "kind": "text", "positive": 1, "negative": None, "casefold": False},
        {"name": "y", "kind": "binary", "positive": "a", "negative": None, "casefold": False},
        {"name": "y", "kind": "odd", "positive": None, "negative": None, "casefold": False},
        {"name": "y", "kind": "binary"},
    ):
        with pytest.raises(ValueError):
            LabelMap.from_dict(bad)
