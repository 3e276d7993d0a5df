from __future__ import annotations

from pathlib import Path

import pytest

from sigmoidnet.config import json_schema, load_config
from sigmoidnet.errors import ConfigError
from tests.config.util import error_of, write

# ---------------------------------------------------------------------------------------------
# name and paths

RULE = (
    "a name is 1 to 100 characters: letters A-Z and a-z, digits, '_', '-' and '.',"
    " and does not start with '.'"
)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("'" + "a" * 300 + "'", "too long (300 characters)"),
        ("'" + "a" * 101 + "'", "too long (101 characters)"),
        ("a/b", "a path separator ('/') is not allowed"),
        ("'a\\b'", "a path separator ('\\\\') is not allowed"),
        ('"a\\0b"', "a NUL byte is not allowed"),
        ('"a\\tb"', "a control character ('\\t') is not allowed"),
        ('"a\\x7fb"', "a control character ('\\x7f') is not allowed"),
        ("é", "'\\xe9' is not allowed"),
        ("'a b'", "' ' is not allowed"),
        (".hidden", "it starts with '.'"),
        ("..", "it starts with '.'"),
        ("''", "empty"),
    ],
)
def test_bad_names(tmp_path: Path, value: str, problem: str) -> None:
    assert error_of(tmp_path, f"name: {value}\n").endswith(f"name: {problem}; {RULE}")


def test_good_names(tmp_path: Path) -> None:
    for name in ("a" * 100, "run-1.2_b", "-x", "a."):
        assert load_config(write(tmp_path, f"name: '{name}'\n")).name == name


def test_default_name_is_bounded(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "", "x" * 200 + ".yaml"))
    assert cfg.name == "x" * 100
    assert load_config(write(tmp_path, "", "..été.yaml")).name == "t"


@pytest.mark.parametrize("key", ["path", "val_path"])
def test_data_paths_with_nul_or_surrogate(tmp_path: Path, key: str) -> None:
    head = "data:\n  source: csv\n  labels: [y]\n"
    other = "  path: t.csv\n" if key == "val_path" else ""
    msg = error_of(tmp_path, f'{head}{other}  {key}: "a\\0b.csv"\n')
    assert msg.endswith(f"data.{key}: the path contains a NUL byte")
    msg = error_of(tmp_path, f'{head}{other}  {key}: "a\\udcffb.csv"\n')
    assert msg.endswith(f"data.{key}: '\\udcff' is a lone surrogate, not a character")


def test_out_dir_with_nul(tmp_path: Path) -> None:
    assert error_of(tmp_path, 'out_dir: "runs\\0x"\n').endswith(
        "out_dir: the path contains a NUL byte"
    )


def test_paths_checked_in_the_schema_too() -> None:
    # an artifact's config is validated without the YAML loader
    from sigmoidnet.config import config_from_dict

    raw = {"data": {"source": "csv", "path": "a\udcffb.csv", "labels": ["y"]}, "out_dir": "r\0"}
    with pytest.raises(ConfigError) as exc:
        config_from_dict(raw, "model.safetensors")
    assert exc.value.message == (
        "model.safetensors: data.path: the path is not valid text (it holds a lone surrogate,"
        " '\\udcff'); out_dir: the path contains a NUL byte"
    )


def test_home_of_an_unknown_user_is_left_as_is(tmp_path: Path) -> None:
    text = "data:\n  source: csv\n  path: ~nosuchuser-sigmoidnet/x.csv\n  labels: [y]\n"
    cfg = load_config(write(tmp_path, text))
    assert cfg.data.path == str(tmp_path.resolve() / "~nosuchuser-sigmoidnet" / "x.csv")


def test_symlink_loop_in_a_data_path_is_left_to_the_reader(tmp_path: Path) -> None:
    (tmp_path / "loop.csv").symlink_to("loop.csv")
    text = "data:\n  source: csv\n  path: loop.csv\n  labels: [y]\n"
    assert load_config(write(tmp_path, text)).data.path == str(tmp_path.resolve() / "loop.csv")


def test_hidden_layers_are_capped(tmp_path: Path) -> None:
    ok = "model:\n  hidden_sizes: [" + ", ".join(["2"] * 1000) + "]\n"
    assert len(load_config(write(tmp_path, ok)).model.hidden_sizes) == 1000
    bad = "model:\n  hidden_sizes: [" + ", ".join(["2"] * 1001) + "]\n"
    assert error_of(tmp_path, bad).endswith(
        "model.hidden_sizes: at most 1000 hidden layers, got 1001"
    )


def test_schema_documents_the_limits() -> None:
    props = json_schema()["properties"]
    assert props["name"]["maxLength"] == 100
    assert props["name"]["pattern"] == "^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"
    model = json_schema()["$defs"]["ModelConfig"]["properties"]
    assert model["hidden_sizes"]["maxItems"] == 1000


TABLE = "data: {source: csv, path: x.csv, labels: [y]"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("categorical: [y]", "column 'y' is a label; it cannot be in 'categorical'"),
        ("numeric: [a], categorical: [a]", "column 'a' is in both 'categorical' and 'numeric'"),
        ("exclude: [a], numeric: [a]", "column 'a' is in both 'exclude' and 'numeric'"),
        ("features: [a], categorical: [b]", "column 'b' is in 'categorical' but not in 'features'"),
        ("positive: {z: yes}", "'positive' names 'z', which is not a label column ['y']"),
        ("max_categories: 0", "max_categories: expected a number from 1 to 10000, or {COLUMN: N"),
        ("max_categories: {}", "expected a number from 1 to 10000, or {COLUMN: N, ...}; got an"),
        ("max_categories: {b: 0}", "data.max_categories: b: expected a number from 1 to 10000"),
        ("max_categories: {b: true}", "b: expected a number from 1 to 10000; got true (bool)"),
        ("max_categories: {1: 5}", "data.max_categories: expected column names as keys; got 1"),
        ("max_categories: {y: 5}", "max_categories names 'y', a label; name a categorical"),
        ("exclude: [b], max_categories: {b: 5}", "'b' is in both 'exclude' and 'max_categories'"),
        ("numeric: [b], max_categories: {b: 5}", "'b' is in both 'numeric' and 'max_categories'"),
        ("features: [a], max_categories: {b: 5}", "'b' is in 'max_categories' but not in"),
        ("impute: zero", "impute"),
        ("delimiter: ':'", "delimiter"),
    ],
)
def test_table_keys_agree_with_each_other(tmp_path: Path, extra: str, expected: str) -> None:
    assert expected in error_of(tmp_path, f"{TABLE}, {extra}}}\n")


def test_max_categories_per_column(tmp_path: Path) -> None:
    d = load_config(write(tmp_path, f"{TABLE}, max_categories: {{b: 500, c: 3}}}}\n")).data
    assert [d.category_cap(c) for c in "abcd"] == [50, 500, 3, 50]
    assert (d.default_category_cap, d.category_caps) == (50, {"b": 500, "c": 3})
    d = load_config(write(tmp_path, f"{TABLE}, max_categories: {{'*': 9, b: 500}}}}\n")).data
    assert [d.category_cap(c) for c in "ab"] == [9, 500] and d.category_caps == {"b": 500}
    d = load_config(write(tmp_path, f"{TABLE}, features: [a], max_categories: {{'*': 9}}}}\n"))
    assert d.data.default_category_cap == 9 and d.data.category_caps == {}
    d = load_config(write(tmp_path, f"{TABLE}, max_categories: 7}}\n")).data
    assert (d.category_cap("a"), d.default_category_cap, d.category_caps) == (7, 7, {})
    cfg = load_config(write(tmp_path, f"{TABLE}, max_categories: {{b: 500}}}}\n"))
    assert load_config(write(tmp_path, cfg.to_yaml(), "again.yaml")).data == cfg.data


def test_table_keys_apply_to_tables_only(tmp_path: Path) -> None:
    assert "'categorical' is for file sources" in error_of(
        tmp_path, "data: {source: random, categorical: [a]}\n"
    )
    assert "'categorical' applies to csv and parquet files, not npz" in error_of(
        tmp_path, "data: {source: npz, path: x.npz, categorical: [a]}\n"
    )


def test_table_keys_round_trip(tmp_path: Path) -> None:
    text = (
        f"{TABLE}, categorical: [b], numeric: [a], exclude: [c], positive: {{y: 'no'}},"
        ' max_categories: 7, impute: mean, delimiter: "\\t"}\n'
    )
    cfg = load_config(write(tmp_path, text))
    d = cfg.data
    assert (d.categorical, d.numeric, d.exclude, d.positive) == (["b"], ["a"], ["c"], {"y": "no"})
    assert (d.max_categories, d.impute, d.delimiter_char) == (7, "mean", "\t")
    again = load_config(write(tmp_path, cfg.to_yaml(), "again.yaml"))
    assert again.data == cfg.data
    assert load_config(write(tmp_path, f"{TABLE}, delimiter: tab}}\n")).data.delimiter_char == "\t"
