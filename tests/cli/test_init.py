"""`sigmoidnet init`: a starter config that trains as it is, from a raw table."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sigmoidnet.config import load_config
from sigmoidnet.starter import starter
from tests.cli.util import invoke

MIXED = "id,age,plan,city,member,outcome\n" + "".join(
    f"{i},{'' if i % 7 == 0 else 20 + (i * 13) % 50},{['basic', 'gold', 'pro'][i % 3]},"
    f"{['Lyon', 'Paris', ''][i % 3 if i % 5 else 2]},{'true' if i % 2 else 'false'},"
    f"{'churned' if (i * 7) % 10 < 3 else 'stayed'}\n"
    for i in range(1, 61)
)


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "clients.csv"
    path.parent.mkdir()
    path.write_text(MIXED)
    return path


def test_init_writes_a_config_that_trains_as_it_is(table: Path, tmp_path: Path) -> None:
    out = tmp_path / "configs" / "clients.yaml"  # a folder that does not exist yet
    code, stdout, err = invoke("init", str(table), "--label", "outcome", "--out", str(out))
    assert code == 0, err
    assert "plan" in stdout and "categorical" in stdout  # the columns table, on stdout
    assert f"wrote {out}; train it with: sigmoidnet train --config {out}" in err
    text = out.read_text()
    assert 'path: "../data/clients.csv"' in text
    assert '"outcome": "churned"  # the rarer value' in text and "CHECK" in text  # not obvious
    assert '- "id"  # row numbers' in text and 'delimiter: ","' in text
    cfg = load_config(out)
    assert cfg.data.positive == {"outcome": "churned"} and cfg.data.exclude == ["id"]
    assert cfg.name == "clients" and cfg.model.hidden_sizes == [32]
    code, _, err = invoke("train", "--config", str(out), "--out", str(tmp_path / "runs"), "-q")
    assert code == 0, err
    code, _, err = invoke("eval", "--run", str(tmp_path / "runs" / "latest"), "--json")
    assert code == 0, err


def test_init_to_stdout_keeps_stdout_a_config(
    table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(table.parent)
    code, stdout, err = invoke("init", "clients.csv", "--label", "outcome")
    assert code == 0, err
    # `init clients.csv --label outcome > clients.yaml`: stdout holds the config and nothing
    # else, the columns table went to stderr
    assert stdout.startswith("# Starter config") and "categorical" in err and "plan" in err
    assert yaml.safe_load(stdout) == starter("clients.csv", ["outcome"]).config
    (table.parent / "clients.yaml").write_text(stdout)
    cfg = load_config(table.parent / "clients.yaml")
    assert cfg.data.path == str(table.resolve()) and cfg.data.labels == ["outcome"]


def test_init_semicolons_and_obvious_labels(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a;b;y\n" + "".join(f"{i};{'x' if i % 2 else 'z'};{'Yes' if i % 3 else 'No'}\n"
                                         for i in range(30)))  # fmt: skip
    out = tmp_path / "t.yaml"
    code, _, err = invoke("init", str(path), "-l", "y", "--out", str(out))
    assert code == 0, err
    text = out.read_text()
    assert 'delimiter: ";"' in text and "# label y: 'Yes' = 1, 'No' = 0" in text
    assert "positive" not in text and load_config(out).data.delimiter_char == ";"


def _three_values(tmp_path: Path) -> Path:
    path = tmp_path / "three.csv"
    path.write_text("x,y\n" + "".join(f"{i},{'abc'[i % 3]}\n" for i in range(30)))
    return path


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--label", "outcomes"], 3, "label column 'outcomes' not found; did you mean 'outcome'?"),
        ([], 2, "--label: name at least one label column"),
        (["-l", "outcome", "-l", "outcome"], 2, "--label: 'outcome' is given twice"),
        (["--label", "plan"], 3, "label column 'plan' holds 3 distinct values"),
    ],
)
def test_init_bad_input(table: Path, args: list[str], code: int, fragment: str) -> None:
    got, out, err = invoke("init", str(table), *args)
    assert got == code and fragment in err and len(err.strip().splitlines()) == 1 and out == ""


@pytest.mark.parametrize(
    ("name", "content", "code", "fragment"),
    [
        ("nope.csv", None, 3, "nope.csv: file not found"),
        ("x.npz", b"PK\x03\x04", 3, "init reads CSV and Parquet tables, not npz"),
        ("x.csv", b"\x1f\x8b\x08\x00", 3, "looks like a gzip file, not CSV"),
        ("x.csv", b"", 3, "x.csv:"),
    ],
)
def test_init_bad_files(
    tmp_path: Path, name: str, content: bytes | None, code: int, fragment: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    got, out, err = invoke("init", str(path), "--label", "y", "--out", str(tmp_path / "c.yaml"))
    assert got == code and fragment in err and len(err.strip().splitlines()) == 1, err
    assert out == "" and not (tmp_path / "c.yaml").exists()


def test_init_never_overwrites_without_force(table: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.yaml"
    out.write_text("mine\n")
    code, _, err = invoke("init", str(table), "--label", "outcome", "--out", str(out))
    assert code == 2 and "exists; pass --force" in err and out.read_text() == "mine\n"
    assert len(err.strip().splitlines()) == 1
    code, _, err = invoke("init", str(table), "--label", "outcome", "--out", str(out), "--force")
    assert code == 0 and out.read_text().startswith("# Starter config")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary


@pytest.mark.parametrize(
    ("out", "fragment"),
    [
        (".", "is a directory, expected a config file name"),
        ("data/clients.csv", "is the data file itself"),
    ],
)
def test_init_refuses_an_out_that_is_not_a_config(
    table: Path, tmp_path: Path, out: str, fragment: str
) -> None:
    before = table.read_text()
    code, _, err = invoke(
        "init", str(table), "--label", "outcome", "--out", str(tmp_path / out), "--force"
    )
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1
    assert table.read_text() == before


def test_init_a_bad_label_writes_nothing(table: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "c.yaml"
    code, _, err = invoke("init", str(table), "--label", "age", "--out", str(out))
    assert code == 3 and "label column 'age'" in err
    assert not out.parent.exists()  # the folder is made only once writing starts


def test_init_on_a_panel_reads_the_person_id_as_categories(tmp_path: Path) -> None:
    """People seen each year: the id is a group key, and a new person predicts from the
    other columns (their id's inputs all zero, said in a note)."""
    rows = ["person,year,hours,member"]
    for p in range(70):
        for y in range(6):
            member = "yes" if (p * 7 + y) % 5 < 2 else "no"
            rows.append(f"{3000 + 41 * p},{2000 + y},{20 + (p * 3 + y) % 30},{member}")
    table = tmp_path / "panel.csv"
    table.write_text("\n".join(rows) + "\n")
    out = tmp_path / "panel.yaml"
    code, stdout, err = invoke("init", str(table), "--label", "member", "--out", str(out))
    assert code == 0, err
    assert "column 'person' read as categories: 70 whole numbers" in err
    cfg = load_config(out)
    assert cfg.data.categorical == ["person"] and cfg.data.max_categories == {"person": 70}
    code, _, err = invoke("train", "--config", str(out), "--out", str(tmp_path / "runs"), "-q")
    assert code == 0, err
    new = tmp_path / "new.csv"
    new.write_text("person,year,hours\n3000,2003,25\n99999,2003,25\n")
    model = str(tmp_path / "runs" / "latest" / "model.safetensors")
    code, stdout, err = invoke("predict", "--checkpoint", model, "--data", str(new))
    assert code == 0, err
    assert "column 'person': 1 value never seen in training (encoded as all zeros)" in err
    assert len(stdout.strip().splitlines()) == 3  # the header and the two rows, in order
