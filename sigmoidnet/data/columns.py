"""Which columns of a file are features and labels: `resolve_columns` for training (from
the config), `match_columns` for inference (against the names a model was trained on)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sigmoidnet.data.messages import nearest
from sigmoidnet.errors import DataError


def resolve_columns(
    names: Sequence[str],
    features: Sequence[str] | None,
    labels: Sequence[str],
    where: str,
) -> tuple[list[str], list[str]]:
    present = set(names)
    for name in labels:
        if name not in present:
            raise DataError(where, f"label column {name!r} not found{nearest(name, names)}")
    label_set = set(labels)
    if features is None:
        feats = [c for c in names if c not in label_set]
    else:
        feats = list(features)
        for name in feats:
            if name in label_set:
                raise DataError(where, f"column {name!r} is listed both as a feature and a label")
            if name not in present:
                raise DataError(where, f"feature column {name!r} not found{nearest(name, names)}")
    if not feats:
        raise DataError(where, "no feature columns: every column is a label")
    return feats, list(labels)


def check_named_columns(
    named: Mapping[str, Sequence[str]], names: Sequence[str], where: str
) -> None:
    """Every column a config key names (`data.categorical: [...]`, say) is in the file: a
    misspelt name is refused, never passed over."""
    present = set(names)
    for key, listed in named.items():
        for name in listed:
            if name not in present:
                raise DataError(
                    where,
                    f"data.{key} names column {name!r}, which the file does not have"
                    f"{nearest(name, names)}",
                )


def match_columns(
    names: Sequence[str],
    feature_names: Sequence[str],
    label_names: Sequence[str] | None,
    require_labels: bool,
    keep: Sequence[str],
    where: str,
    *,
    ignored: Sequence[str] = (),
) -> tuple[list[str], list[str] | None]:
    """Check a file's columns against the model's raw columns, by name in any order; return
    (features in the model's order, labels to read). `ignored`: columns the model left out
    in training, passed over when present."""
    present = set(names)
    for name in keep:
        if name not in present:
            raise DataError(where, f"keep column {name!r} not found{nearest(name, names)}")
    labels: list[str] | None = None
    label_set: set[str] = set()
    if label_names is not None:
        label_set = set(label_names)
        if require_labels:
            for name in label_names:
                if name not in present:
                    raise DataError(
                        where, f"label column {name!r} is missing{nearest(name, names)}"
                    )
            labels = list(label_names)
    feature_set = set(feature_names)
    passed_over = (set(keep) | set(ignored)) - feature_set
    candidates = [c for c in names if c not in label_set and c not in passed_over]
    cand_set = set(candidates)
    for name in feature_names:
        if name not in cand_set:
            raise DataError(where, f"column {name!r} is missing{nearest(name, candidates)}")
    for name in candidates:
        if name not in feature_set:
            raise DataError(
                where,
                f"extra column {name!r} not seen in training "
                "(predict --keep / eval --ignore pass over a non-feature column)",
            )
    return list(feature_names), labels
