"""`sigmoidnet init`: a starter config that trains as it is, from a raw table."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigmoidnet.config import load_config
from sigmoidnet.starter import settings_for
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


def test_init_writes_a_config_that_trains(table: Path, tmp_path: Path) -> None:
    out = tmp_path / "configs" / "clients.yaml"
    out.parent.mkdir()
    code, stdout, err = invoke("init", str(table), "--label", "outcome", "--out", str(out))
    assert code == 0, err
    assert "plan" in stdout and "categorical" in stdout  # the columns table
    text = out.read_text()
    assert 'path: "../data/clients.csv"' in text
    assert '"outcome": "churned"  # the rarer value' in text and "CHECK" in text  # not obvious
    assert '- "id"  # row numbers' in text and 'delimiter: ","' in text
    cfg = load_config(out)
    assert cfg.data.positive == {"outcome": "churned"} and cfg.data.exclude == ["id"]
    assert cfg.name == "clients" and cfg.model.hidden_sizes == [32]
    code, _, err = invoke(
        "train", "--config", str(out), "--out", str(tmp_path / "runs"), "-q",
        "--set", "train.epochs=3",
    )  # fmt: skip
    assert code == 0, err


def test_init_to_stdout_keeps_stdout_a_config(
    table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(table.parent)
    code, stdout, err = invoke("init", "clients.csv", "--label", "outcome")
    assert code == 0, err
    assert stdout.startswith("# Starter config") and "categorical" in err
    cfg_path = tmp_path / "s.yaml"
    cfg_path.write_text(stdout.replace('path: "clients.csv"', f'path: "{table}"'))
    assert load_config(cfg_path).data.labels == ["outcome"]


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


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--label", "outcomes"], 3, "label column 'outcomes' not found; did you mean 'outcome'?"),
        ([], 2, "--label: name at least one label column"),
    ],
)
def test_init_bad_input(table: Path, args: list[str], code: int, fragment: str) -> None:
    got, out, err = invoke("init", str(table), *args)
    assert got == code and fragment in err and len(err.strip().splitlines()) == 1 and out == ""


def test_init_never_overwrites_without_force(table: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.yaml"
    out.write_text("mine\n")
    code, _, err = invoke("init", str(table), "--label", "outcome", "--out", str(out))
    assert code == 2 and "exists; pass --force" in err and out.read_text() == "mine\n"
    code, _, err = invoke("init", str(table), "--label", "outcome", "--out", str(out), "--force")
    assert code == 0 and out.read_text().startswith("# Starter config")
    missing = tmp_path / "nope.csv"
    code, _, err = invoke("init", str(missing), "--label", "y")
    assert code == 3 and "file not found" in err


def test_settings_scale_with_the_table() -> None:
    small = settings_for(300, 10, [0.4])
    big = settings_for(2_000_000, 300, [0.05])
    assert small["model"]["hidden_sizes"] == [32] and small["train"]["batch_size"] == 32
    assert small["train"]["epochs"] == 200 and "pos_weight" not in small["train"]
    assert big["model"]["hidden_sizes"] == [128, 64] and big["train"]["batch_size"] == 512
    assert big["train"]["epochs"] == 20 and big["train"]["pos_weight"] == "auto"
