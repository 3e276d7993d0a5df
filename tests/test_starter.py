"""`sigmoidnet.starter`: the choices of a starter config, their comments, and that the text
reads back (as `load_config` reads it) into exactly the config intended."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from sigmoidnet.config import config_from_dict, load_config
from sigmoidnet.data import load_dataset
from sigmoidnet.errors import DataError, UsageError
from sigmoidnet.starter import (
    config_folder_path,
    group_key,
    run_name,
    settings_for,
    starter,
    val_fraction_for,
)


def _mixed(n: int = 60, label: str = "outcome") -> str:
    rows = [f"id,age,plan,city,member,{label}"]
    for i in range(1, n + 1):
        age = "" if i % 7 == 0 else str(20 + (i * 13) % 50)
        city = ["Lyon", "Paris", ""][i % 3 if i % 5 else 2]
        member = "true" if i % 2 else "false"
        out = "churned" if (i * 7) % 10 < 3 else "stayed"
        rows.append(f"{i},{age},{['basic', 'gold', 'pro'][i % 3]},{city},{member},{out}")
    return "\n".join(rows) + "\n"


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "clients.csv"
    path.parent.mkdir()
    path.write_text(_mixed())
    return path


def _written(tmp_path: Path, text: str, folder: str = "configs") -> Path:
    out = tmp_path / folder / "c.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


def _features(s_columns: list[object]) -> list[str]:
    return [c.name for c in s_columns if c.kind not in ("label", "left out")]  # type: ignore[attr-defined]


def test_the_text_reads_back_into_the_config_and_keeps_the_columns(
    table: Path, tmp_path: Path
) -> None:
    out = tmp_path / "configs" / "c.yaml"
    s = starter(str(table), ["outcome"], str(out))
    d = s.config["data"]
    assert d == {
        "source": "csv",
        "path": "../data/clients.csv",
        "labels": ["outcome"],
        "delimiter": ",",
        "positive": {"outcome": "churned"},  # 18 of 60 rows: the rarer
        "exclude": ["id"],
        "val_fraction": 0.1,  # below 1,000 labelled rows
    }
    assert s.config["name"] == "clients" and s.config["seed"] == 0
    assert s.config["model"] == s.settings["model"] and s.config["train"] == s.settings["train"]
    cfg = load_config(_written(tmp_path, s.text))
    resolved = dict(s.config, data=dict(d, path=str(table.resolve())))
    assert cfg == config_from_dict(resolved, "intended")
    # trained as written, the columns are those the starter chose
    ds = load_dataset(cfg.data, cfg.seed)
    assert ds.preprocessor.raw_names == _features(s.columns) == ["age", "plan", "city", "member"]
    assert ds.n_features == s.inputs and s.rows == 60


def test_every_choice_has_its_comment(table: Path) -> None:
    s = starter(str(table), ["outcome"])
    t = s.text
    assert t.startswith("# Starter config written by `sigmoidnet init` for clients.csv")
    assert 'delimiter: ","  # sniffed' in t
    assert "# label outcome: 'churned' = 1, 'stayed' = 0" in t
    assert '"outcome": "churned"  # the rarer value (18 of 60 rows); CHECK' in t
    assert '- "id"  # row numbers (distinct consecutive integers)' in t
    assert "# categorical, one-hot" in t and "plan, city" in t
    assert "# numbers, standardized on the training rows: age, member" in t
    assert "# missing numbers: the training median" in t
    assert "val_fraction: 0.1  # 6 rows held out" in t
    assert "# model and training: for a real table of 54 training rows and" in t
    assert "epochs: 200  # the model kept is the best validation loss's" in t


def test_paths_are_relative_to_the_config_folder(table: Path, tmp_path: Path) -> None:
    assert starter(str(table), ["outcome"], str(tmp_path / "c.yaml")).config["data"]["path"] == (
        "data/clients.csv"
    )
    deep = tmp_path / "a" / "b" / "c.yaml"
    assert starter(str(table), ["outcome"], str(deep)).config["data"]["path"] == (
        "../../data/clients.csv"
    )
    # a folder reached through a link: relative to the real folder, as load_config resolves it
    real = tmp_path / "elsewhere" / "deeper"
    real.mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    s = starter(str(table), ["outcome"], str(tmp_path / "link" / "c.yaml"))
    assert s.config["data"]["path"] == "../../data/clients.csv"
    (real / "c.yaml").write_text(s.text)
    assert load_config(tmp_path / "link" / "c.yaml").data.path == str(table.resolve())


def test_stdout_paths_are_relative_to_the_working_directory(
    table: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(table.parent)
    s = starter("clients.csv", ["outcome"])
    assert s.config["data"]["path"] == "clients.csv" and s.config["name"] == "clients"
    assert config_folder_path(str(table), str(table.parent.parent)) == "data/clients.csv"


def test_obvious_pairs_and_zero_one_labels_need_no_positive(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "a;b;y;z\n"
        + "".join(
            f"{i};{'x' if i % 2 else 'w'};{'Yes' if i % 3 else 'No'};{i % 2}\n" for i in range(30)
        )
    )
    s = starter(str(path), ["y", "z"])
    assert "positive" not in s.config["data"] and s.config["data"]["delimiter"] == ";"
    assert "# label y: 'Yes' = 1, 'No' = 0 (an obvious pair, found on its own)" in s.text
    assert "# label z: 0/1, 1 is positive" in s.text


@pytest.mark.parametrize(
    ("values", "positive", "why"),
    [
        ([1, 2, 2, 2], 1, "the rarer value (10 of 40 rows)"),
        ([10, 9], 9, "the first in value order"),  # a tie: 9 < 10 as numbers
        (["b", "a"], "a", "the first in value order"),
        (["no way", "sure", "sure"], "no way", "the rarer value"),
    ],
)
def test_the_positive_value_is_the_rarer_ties_by_value_order(
    tmp_path: Path, values: list[object], positive: object, why: str
) -> None:
    path = tmp_path / "t.csv"
    rows = [values[i % len(values)] for i in range(len(values) * 10)]
    path.write_text("x,lab\n" + "".join(f"{i},{v}\n" for i, v in enumerate(rows)))
    s = starter(str(path), ["lab"], str(tmp_path / "c.yaml"))
    assert s.config["data"]["positive"] == {"lab": positive}
    assert type(s.config["data"]["positive"]["lab"]) is type(positive)
    assert why in s.text and "CHECK" in s.text
    cfg = load_config(_written(tmp_path, s.text, "."))
    assert cfg.data.positive == {"lab": positive}
    assert load_dataset(cfg.data, 0).preprocessor.labels[0].positive == (
        float(positive) if isinstance(positive, int) else positive  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("column", "code", "fragment"),
    [
        ("a,b,c", 3, "label column 'lab' holds 3 distinct values ('a', 'b', 'c')"),
        ("only", 3, "label column 'lab' holds one value, 'only'; a label needs two"),
    ],
)
def test_labels_that_cannot_be_one(tmp_path: Path, column: str, code: int, fragment: str) -> None:
    path = tmp_path / "t.csv"
    vals = column.split(",")
    path.write_text("x,lab\n" + "".join(f"{i},{vals[i % len(vals)]}\n" for i in range(30)))
    with pytest.raises(DataError) as e:
        starter(str(path), ["lab"])
    assert e.value.exit_code == code and fragment in e.value.message


def test_bad_inputs(table: Path, tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match="label column 'outcomes' not found; did you mean 'outcome'"
    ):
        starter(str(table), ["outcomes"])
    with pytest.raises(DataError, match="file not found"):
        starter(str(tmp_path / "nope.csv"), ["y"])
    with pytest.raises(DataError, match="is a directory"):
        starter(str(tmp_path), ["y"])
    with pytest.raises(UsageError, match="name at least one label column"):
        starter(str(table), [])
    with pytest.raises(UsageError, match="'outcome' is given twice"):
        starter(str(table), ["outcome", "outcome"])
    npz = tmp_path / "x.npz"
    npz.write_bytes(b"PK\x03\x04")
    with pytest.raises(DataError, match="init reads CSV and Parquet tables, not npz") as e:
        starter(str(npz), ["y"])
    assert e.value.exit_code == 3


def test_odd_names_round_trip(tmp_path: Path) -> None:
    names = ["a: b", "#x", 'say "hi"', "null", "007", "true", "été", "back\\slash"]
    header = ",".join(f'"{n}"' if '"' not in n else '"say ""hi"""' for n in names)
    path = tmp_path / "odd names.csv"
    rows = "".join(
        ",".join(str((i * (j + 3)) % 11) for j in range(len(names) - 1)) + f",{'AB'[i % 3 == 0]}\n"
        for i in range(40)
    )
    path.write_text(header + "\n" + rows)
    s = starter(str(path), ["back\\slash"], str(tmp_path / "c.yaml"))
    assert s.config["name"] == "odd-names"
    cfg = load_config(_written(tmp_path, s.text, "."))
    assert cfg.data.labels == ["back\\slash"] and cfg.data.positive == {"back\\slash": "B"}
    assert load_dataset(cfg.data, 0).preprocessor.raw_names == names[:-1]


def test_a_column_of_numbers_with_a_stray_word_is_left_out_and_said(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    body = "".join(f"{i % 9},{'?' if i == 30 else i * 1.5},{'yn'[i % 3 == 0]}\n" for i in range(60))
    path.write_text("a,charges,y\n" + body)
    s = starter(str(path), ["y"])
    assert s.config["data"]["exclude"] == ["charges"]
    assert "row 31 holds '?': CHECK: fix those cells" in s.text
    assert any("'charges' left out: numbers, but row 31" in n for n in s.notes)
    info = next(c for c in s.columns if c.name == "charges")
    assert info.kind == "left out" and info.note.startswith("numbers, but row 31")


def test_a_column_of_numbers_with_blank_cells_is_numeric_with_missing(tmp_path: Path) -> None:
    # the Telco table's `TotalCharges`: numbers, and a few cells of spaces (missing)
    path = tmp_path / "t.csv"
    body = "".join(
        f"{i % 9},{' ' if i % 20 == 3 else i * 1.5},{'yn'[i % 3 == 0]}\n" for i in range(60)
    )
    path.write_text("a,charges,y\n" + body)
    s = starter(str(path), ["y"])
    assert "exclude" not in s.config["data"]
    info = next(c for c in s.columns if c.name == "charges")
    assert (info.kind, info.missing) == ("numeric", 3)


def test_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    n = 50
    pq.write_table(
        pa.table(
            {
                "x": [float(i) for i in range(n)],
                "c": [["u", "v", None][i % 3] for i in range(n)],
                "y": [["up", "down"][i % 4 == 0] for i in range(n)],
            }
        ),
        path,
    )
    s = starter(str(path), ["y"])
    d = s.config["data"]
    assert d["source"] == "parquet" and "delimiter" not in d and d["positive"] == {"y": "down"}
    assert "delimiter" not in s.text


def test_run_names() -> None:
    assert run_name("data/sales.2024.csv.gz") == "sales.2024"
    assert run_name("my data!.tsv") == "my-data"
    assert run_name("x.parquet") == "x" and run_name(".csv") == "sigmoidnet"
    assert run_name("é" * 5 + ".csv") == "sigmoidnet"
    assert len(run_name("a" * 300 + ".csv")) == 100


def test_settings_scale_with_the_table() -> None:
    small = settings_for(300, 10, [0.4])
    mid = settings_for(5_000, 40, [0.3])
    big = settings_for(2_000_000, 300, [0.05])
    assert small["model"]["hidden_sizes"] == [32] and small["train"]["batch_size"] == 32
    assert small["train"]["epochs"] == 200 and "pos_weight" not in small["train"]
    assert mid["model"]["hidden_sizes"] == [64] and mid["train"]["batch_size"] == 128
    assert big["model"]["hidden_sizes"] == [128, 64] and big["train"]["batch_size"] == 512
    assert big["train"]["epochs"] == 20 and big["train"]["pos_weight"] == "auto"


def test_a_small_table_holds_out_a_tenth_and_a_larger_one_a_fifth(tmp_path: Path) -> None:
    assert [val_fraction_for(n) for n in (1, 999, 1000, 10**6)] == [0.1, 0.1, 0.2, 0.2]

    def written(rows: int, missing: int) -> Path:
        path = tmp_path / f"t{rows}-{missing}.csv"
        body = "".join(
            f"{i % 7},{'' if i < missing else 'yes' if i % 3 else 'no'}\n" for i in range(rows)
        )
        path.write_text("x,y\n" + body)
        return path

    # the rows that count are those with a label: 1,050 rows, 60 of them without one
    s = starter(str(written(1050, 60)), ["y"])
    assert s.rows == 990 and s.config["data"]["val_fraction"] == 0.1
    s = starter(str(written(1050, 0)), ["y"])
    assert s.rows == 1050 and s.config["data"]["val_fraction"] == 0.2
    assert "val_fraction: 0.2  # 210 rows held out" in s.text


# ---------------------------------------------------------------------------------------------
# group keys: an id of the same person or thing on several rows


def _panel(groups: int, years: int = 5, first: int = 1000, step: int = 37) -> list[int]:
    """Each of `groups` sparse ids on `years` rows (a panel of people seen each year)."""
    return [first + step * g for g in range(groups) for _ in range(years)]


@pytest.mark.parametrize(
    ("values", "found"),
    [
        (_panel(60), (60, 5.0)),
        ([float(v) for v in _panel(60)], (60, 5.0)),  # whole numbers as floats
        ([*_panel(60), None, None], (60, 5.0)),  # missing values are passed over
        (_panel(60)[:-2], (60, 298 / 60)),  # an unbalanced panel
        (_panel(60, step=1), None),  # dense: a count or a rank, not an id
        ([1 + i % 31 for i in range(3100)], None),  # a day of the month
        (_panel(19), None),  # too few groups
        (_panel(60, years=1), None),  # every value once
        ([1000 * (g + 1) for g in range(60) for _ in range(1 + 9 * (g % 2))], None),  # uneven
        ([v + 0.5 for v in _panel(60)], None),  # not whole numbers
        ([str(v) for v in _panel(60)], None),  # text (the loader's categories already)
        ([None, None], None),
    ],
)
def test_group_keys(values: list[object], found: tuple[int, float] | None) -> None:
    got = group_key("g", pa.array(values))
    assert (None if got is None else (got.groups, got.rows)) == found


def _panel_csv(path: Path, groups: int) -> Path:
    rows = ["person,year,hours,member"]
    for i, person in enumerate(_panel(groups, years=6)):
        year = 2000 + i % 6
        rows.append(f"{person},{year},{20 + (i * 7) % 30},{'yes' if (i // 6) % 3 else 'no'}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_group_key_is_read_as_categories_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "c.yaml"
    s = starter(str(_panel_csv(tmp_path / "panel.csv", 80)), ["member"], str(out))
    d = s.config["data"]
    assert d["categorical"] == ["person"] and d["max_categories"] == {"person": 80}
    line = next(x for x in s.text.splitlines() if x.startswith('    - "person"'))
    assert "80 whole numbers, each on about 6 rows: a group key" in line
    assert "CHECK: if new rows come from new groups" in line
    assert '  max_categories: {"person": 80}  # every group its own input' in s.text
    assert any("column 'person' read as categories" in n for n in s.notes)
    kinds = {c.name: c.kind for c in s.columns}  # type: ignore[attr-defined]
    assert kinds["person"] == "categorical" and kinds["year"] == "numeric"
    # the config trains the way init loaded it: each person an input of its own
    cfg = load_config(_written(tmp_path, s.text, "."))
    ds = load_dataset(cfg.data, cfg.seed)
    assert sum(n.startswith("person=") for n in ds.feature_names) == 80  # no <other> slot
    assert s.inputs == ds.n_features
    # 50 groups or fewer: the default max_categories keeps them all
    s = starter(str(_panel_csv(tmp_path / "small.csv", 40)), ["member"])
    assert s.config["data"]["categorical"] == ["person"]
    assert "max_categories" not in s.config["data"]
