from __future__ import annotations

from pathlib import Path

import pytest

from sigmoidnet.config import Config, json_schema, load_config
from sigmoidnet.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def error_of(tmp_path: Path, text: str, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text), list(overrides))
    assert exc.value.exit_code == 2
    msg = exc.value.message
    assert "\n" not in msg
    return msg


def test_empty_config_is_the_tutorial(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "", "tut.yaml"))
    assert cfg.name == "tut"  # the file's stem
    assert cfg.data.source == "random"
    assert (cfg.data.n_samples, cfg.data.n_features, cfg.data.n_labels) == (32, 64, 2)
    assert cfg.model.hidden_sizes == [128]
    assert cfg.model.activation == "relu"
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.lr) == (10, 32, 0.01)
    assert cfg.train.optimizer == "adam"
    assert cfg.data.val_fraction == 0.0
    assert cfg.out_dir == "runs"


def test_no_file_gives_defaults() -> None:
    cfg = load_config(None, ["train.epochs=3"])
    assert cfg.train.epochs == 3
    assert cfg.name == "sigmoidnet"


def test_exponent_is_a_float(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "train:\n  lr: 1e-3\n")).train.lr == 0.001


def test_yaml11_words_stay_strings(tmp_path: Path) -> None:
    text = "data:\n  source: csv\n  path: x.csv\n  labels: [no, yes, on]\n"
    assert load_config(write(tmp_path, text)).data.labels == ["no", "yes", "on"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train:\n  lrr: 0.1\n", "train.lrr: unknown key; did you mean 'train.lr'?"),
        ("modle: {}\n", "modle: unknown key; did you mean 'model'?"),
        ("lr: 0.1\n", "lr: unknown key; did you mean 'train.lr'?"),
        ("train:\n  lr: -1\n", "train.lr: expected a value greater than 0; got -1 (int)"),
        ("train:\n  lr: '0.1'\n", "train.lr: expected a valid number; got '0.1' (str)"),
        ("train:\n  epochs: 1.5\n", "train.epochs: expected a valid integer; got 1.5 (float)"),
        ("train:\n  epochs: true\n", "train.epochs: expected a valid integer; got true (bool)"),
        ("train:\n  optimizer: adm\n", "train.optimizer: expected 'adam', 'adamw' or 'sgd'"),
        ("model:\n  hidden_sizes: [8, 0]\n", "model.hidden_sizes.1: expected a value greater"),
        ("model:\n  dropout: 1.0\n", "model.dropout: expected a value less than 1"),
        ("device: gpu\n", "device: expected auto, cpu, cuda, cuda:N or mps, got 'gpu'"),
        ("data:\n  source: csv\n", "data: 'path' is required for source 'csv'"),
        ("data:\n  source: csv\n  path: a.csv\n", "data: 'labels' is required for source 'csv'"),
        ("data:\n  labels: [a]\n", "'labels' is for file sources"),
        ("data:\n  source: csv\n  path: a\n  labels: a\n  n_samples: 3\n", "only for source"),
        ("train:\n  pos_weight: foo\n", "train.pos_weight: expected 'auto' or a valid list"),
        ("model:\n  input_size: 10\n", "model.input_size is 10 but data.n_features is 64"),
        ("[1, 2]\n", "expected a mapping of keys at the top"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_of(tmp_path, text)


def test_all_errors_at_once(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "train:\n  lr: -1\n  epochs: 0\n")
    assert "train.lr" in msg and "train.epochs" in msg


def test_duplicate_key(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "train:\n  lr: 0.1\n  lr: 0.2\n")
    assert msg.endswith("c.yaml:3:3: duplicate key 'lr' (first on line 2)")


def test_object_tags_refused(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "name: !!python/object/apply:os.system ['echo hi']\n")
    assert "c.yaml:1:7" in msg and "not allowed" in msg


def test_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "train:\n  lr: [0.1\n")
    assert "c.yaml:3:1" in msg


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_overrides(tmp_path: Path) -> None:
    p = write(tmp_path, "train:\n  lr: 0.1\n")
    cfg = load_config(p, ["train.lr=0.001", "model.hidden_sizes=[256,64]", "train.pos_weight=auto"])
    assert cfg.train.lr == 0.001
    assert cfg.model.hidden_sizes == [256, 64]
    assert cfg.train.pos_weight == "auto"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("train.lr", "expected KEY=VALUE"),
        ("train.lr=abc", "train.lr: expected a valid number; got 'abc' (str)"),
        ("train.lrr=1", "did you mean 'train.lr'"),
        ("train.lr.x=1", "train.lr: expected a valid number"),
        ("name.x=1", "'name' is not a section"),
        ("model.hidden_sizes=[1", "--set model.hidden_sizes=[1"),
    ],
)
def test_bad_overrides(tmp_path: Path, item: str, expected: str) -> None:
    assert expected in error_of(tmp_path, "", (item,))


def test_data_paths_resolve_against_config_folder(tmp_path: Path) -> None:
    sub = tmp_path / "cfgs"
    sub.mkdir()
    p = write(sub, "data:\n  source: csv\n  path: ../d/x.csv\n  labels: [y]\n")
    cfg = load_config(p)
    assert cfg.data.path == str((tmp_path / "d" / "x.csv").resolve())
    assert cfg.data.val_fraction == 0.2
    assert cfg.out_dir == "runs"  # relative to the working directory, left as given


def test_resolved_yaml_round_trips(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "train:\n  lr: 1e-4\nmodel:\n  hidden_sizes: []\n"))
    again = load_config(write(tmp_path, cfg.to_yaml(), "again.yaml"))
    assert again == cfg.model_copy(update={"name": cfg.name})


def test_resolved_yaml_of_a_val_path_config_round_trips(tmp_path: Path) -> None:
    # the whole val_path is held out: the resolved config must not also carry val_fraction
    text = "data:\n  source: csv\n  path: t.csv\n  val_path: v.csv\n  labels: [y]\n"
    cfg = load_config(write(tmp_path, text))
    assert cfg.data.holdout == 0.0
    again = load_config(write(tmp_path, cfg.to_yaml(), "again.yaml"))
    assert again == cfg.model_copy(update={"name": cfg.name})


def test_schema_lists_sections() -> None:
    schema = json_schema()
    assert set(schema["properties"]) >= {"name", "seed", "device", "data", "model", "train"}
    assert Config.model_json_schema()["additionalProperties"] is False


def test_override_errors_are_blamed_on_the_command_line(tmp_path: Path) -> None:
    p = write(tmp_path, "train:\n  lr: 0.1\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p, ["train.lrr=1"])
    assert exc.value.message.startswith("command line (--set/--device): train.lrr")
    bad = write(tmp_path, "train:\n  lr: -1\n", "bad.yaml")
    with pytest.raises(ConfigError) as exc:
        load_config(bad, ["train.epochs=2"])
    assert exc.value.message.startswith(f"{bad}: train.lr")
