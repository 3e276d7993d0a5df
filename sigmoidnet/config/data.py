"""The `data` section: where the rows come from and how a real table's columns are read."""

from __future__ import annotations

import collections
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from sigmoidnet.config._base import PosInt, Strict, check_path, describe
from sigmoidnet.limits import MAX_CATEGORIES

#: the data keys for real tables (column types, label values, categories, missing values)
TABLE_KEYS = (
    "categorical",
    "numeric",
    "exclude",
    "positive",
    "max_categories",
    "impute",
    "delimiter",
)
#: the categories a categorical column keeps when `data.max_categories` does not say
DEFAULT_MAX_CATEGORIES = 50
#: in a `data.max_categories` mapping, the entry for the columns it does not name
OTHER_COLUMNS = "*"
CategoryCap = Annotated[int, Field(ge=1, le=MAX_CATEGORIES)]
#: a label value named in `data.positive`: text, a number or a boolean, as the file holds it
StrictLabelValue = Annotated[str | int | float | bool, Field(union_mode="left_to_right")]


class DataConfig(Strict):
    """Where the rows come from. `random` is the tutorial's data."""

    source: Literal["random", "csv", "parquet", "npz"] = "random"
    # random only (the tutorial: torch.rand features, torch.randint(0, 2) targets)
    n_samples: PosInt = 32
    n_features: PosInt = 64
    n_labels: PosInt = 2
    # file sources
    path: str | None = None  # relative to the config file's folder
    labels: list[str] | None = None
    features: list[str] | None = None
    val_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] | None = Field(
        default=None,
        description="Share of rows held out for validation (seeded; stratified for one label)."
        " Default: 0.2 for file sources, 0.0 for random data (the tutorial trains on all rows).",
    )
    val_path: str | None = None
    normalize: Literal["standard", "none"] = "standard"
    # real tables (csv and parquet): column types, labels, categories, missing values
    categorical: list[str] | None = Field(
        default=None, description="Feature columns read as categories (one-hot encoded)."
    )
    numeric: list[str] | None = Field(
        default=None, description="Feature columns read as numbers (text in them is an error)."
    )
    exclude: list[str] | None = Field(default=None, description="Columns left out of the features.")
    positive: dict[str, StrictLabelValue] | None = Field(
        default=None,
        description="The positive value of a label column whose two values are not an obvious"
        " pair (yes/no, true/false, 1/0, ...): {COLUMN: VALUE}.",
    )
    max_categories: CategoryCap | dict[str, CategoryCap] = Field(
        default=DEFAULT_MAX_CATEGORIES,
        description="The most categories a categorical column keeps as inputs (the rarer ones"
        " share one <other> input): a number for every column, or {COLUMN: N, ...} per column,"
        " where '*': N sets it for the columns not named (otherwise 50).",
    )
    impute: Literal["median", "mean", "error"] = "median"
    delimiter: Literal["auto", ",", ";", "\t", "tab", "|"] = "auto"

    _paths = field_validator("path", "val_path")(check_path)

    @field_validator("max_categories", mode="before")
    @classmethod
    def _caps(cls, v: Any) -> Any:
        """One message for each bad form (pydantic's union would give one per alternative)."""
        forms = f"a number from 1 to {MAX_CATEGORIES}, or {{COLUMN: N, ...}}"
        if isinstance(v, dict):
            if not v:
                raise ValueError(f"expected {forms}; got an empty mapping")
            for key, n in v.items():
                if not isinstance(key, str) or not key:
                    raise ValueError(f"expected column names as keys; got {describe(key)}")
                if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_CATEGORIES:
                    raise ValueError(
                        f"{key}: expected a number from 1 to {MAX_CATEGORIES}; got {describe(n)}"
                    )
        elif isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_CATEGORIES:
            raise ValueError(f"expected {forms}; got {describe(v)}")
        return v

    @field_validator("labels", "features", "categorical", "numeric", "exclude", mode="before")
    @classmethod
    def _one_name_is_a_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("labels", "features", "categorical", "numeric", "exclude")
    @classmethod
    def _unique_names(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("expected at least one column name, got an empty list")
            dup = sorted(n for n, k in collections.Counter(v).items() if k > 1)
            if dup:
                raise ValueError(f"column names must be unique, got {dup[0]!r} twice")
        return v

    @model_validator(mode="after")
    def _check_source(self) -> DataConfig:
        random_only = {"n_samples", "n_features", "n_labels"}
        file_only = {"path", "labels", "features", "val_path", *TABLE_KEYS}
        given = {k for k in self.model_fields_set if getattr(self, k) is not None}
        if self.source == "random":
            bad = sorted(given & file_only)
            if bad:
                raise ValueError(f"'{bad[0]}' is for file sources, but source is 'random'")
            frac = 0.0 if self.val_fraction is None else self.val_fraction
        else:
            bad = sorted(given & random_only)
            if bad:
                raise ValueError(f"'{bad[0]}' is only for source 'random', got '{self.source}'")
            if self.path is None:
                raise ValueError(f"'path' is required for source '{self.source}'")
            if self.labels is None and self.source != "npz":
                raise ValueError(f"'labels' is required for source '{self.source}'")
            if self.val_path is not None and "val_fraction" in given:
                raise ValueError("give either 'val_path' or 'val_fraction', not both")
            frac = 0.2 if self.val_fraction is None else self.val_fraction
            if self.val_path is not None:
                frac = 0.0
        object.__setattr__(self, "val_fraction", frac)
        self._check_table_keys()
        return self

    def _check_table_keys(self) -> None:
        """The column lists agree with each other (whether the columns exist is the data's
        business: `sigmoidnet.data` checks them against the file's header)."""
        if self.source == "npz":
            bad = sorted(
                k for k in TABLE_KEYS if k in self.model_fields_set and k not in ("positive",)
            )
            if bad:
                raise ValueError(f"'{bad[0]}' applies to csv and parquet files, not npz")
        labels = set(self.labels or [])
        groups = {
            "features": self.features,
            "categorical": self.categorical,
            "numeric": self.numeric,
            "exclude": self.exclude,
        }
        for key, names in groups.items():
            for name in names or []:
                if name in labels:
                    raise ValueError(f"column {name!r} is a label; it cannot be in '{key}'")
        both = sorted(set(self.categorical or []) & set(self.numeric or []))
        if both:
            raise ValueError(f"column {both[0]!r} is in both 'categorical' and 'numeric'")
        dropped = set(self.exclude or [])
        for key in ("features", "categorical", "numeric"):
            clash = sorted(dropped & set(groups[key] or []))
            if clash:
                raise ValueError(f"column {clash[0]!r} is in both 'exclude' and '{key}'")
        if self.features is not None:
            chosen = set(self.features)
            for key in ("categorical", "numeric"):
                outside = [n for n in groups[key] or [] if n not in chosen]
                if outside:
                    raise ValueError(f"column {outside[0]!r} is in '{key}' but not in 'features'")
        caps = self.max_categories
        if isinstance(caps, dict):
            for name in caps:
                if name in labels:
                    raise ValueError(
                        f"max_categories names {name!r}, a label; name a categorical feature"
                    )
                if name in dropped:
                    raise ValueError(f"column {name!r} is in both 'exclude' and 'max_categories'")
                if name in set(self.numeric or []):
                    raise ValueError(f"column {name!r} is in both 'numeric' and 'max_categories'")
                if self.features is not None and name not in [*self.features, OTHER_COLUMNS]:
                    raise ValueError(
                        f"column {name!r} is in 'max_categories' but not in 'features'"
                    )
        for name in self.positive or {}:
            if self.labels is not None and name not in labels:
                raise ValueError(
                    f"'positive' names {name!r}, which is not a label column {sorted(labels)}"
                )

    @property
    def delimiter_char(self) -> str | None:
        """The CSV delimiter, or None to sniff it."""
        if self.delimiter == "auto":
            return None
        return "\t" if self.delimiter == "tab" else self.delimiter

    def category_cap(self, column: str) -> int:
        """The most categories `column` keeps (`max_categories`, for it or for every column)."""
        caps = self.max_categories
        if isinstance(caps, int):
            return caps
        return caps.get(column, caps.get(OTHER_COLUMNS, DEFAULT_MAX_CATEGORIES))

    @property
    def default_category_cap(self) -> int:
        """The most categories of a column `max_categories` does not name."""
        return self.category_cap(OTHER_COLUMNS)

    @property
    def category_caps(self) -> dict[str, int]:
        """The columns `max_categories` names, with their caps (`*` left out)."""
        caps = self.max_categories
        if isinstance(caps, int):
            return {}
        return {k: v for k, v in caps.items() if k != OTHER_COLUMNS}

    @property
    def holdout(self) -> float:
        return float(self.val_fraction or 0.0)
