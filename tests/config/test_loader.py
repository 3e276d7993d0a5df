from __future__ import annotations

from pathlib import Path

import pytest

from sigmoidnet.config import Config, json_schema, load_config
from sigmoidnet.errors import ConfigError
from tests.cli.util import invoke
from tests.config.util import BILLION_LAUGHS, error_of, write


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
    assert msg.endswith("c.yaml:3:3: duplicate key 'train.lr' (first on line 2)")


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


# ---------------------------------------------------------------------------------------------
# The command: one `error:` line, exit 2 (3 for a missing data file), nothing written


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (BILLION_LAUGHS, "c.yaml:1:4: YAML anchors and aliases are not allowed"),
        ("[" * 5000, "c.yaml:1:33: lists and mappings nest deeper than 32 levels"),
        ("? [a, b]\n: 1\n", "c.yaml:1:3: a key must be a plain name, got a list"),
        ("seed: " + "1" * 5000 + "\n", "c.yaml:1:7: seed: an integer of 5000 digits"),
        ("name: " + "a" * 300 + "\n", "c.yaml: name: too long (300 characters)"),
        ("seed: 0b101\n", "c.yaml: seed: expected a valid integer; got '0b101' (str)"),
        ('out_dir: "a\\0b"\n', "c.yaml: out_dir: the path contains a NUL byte"),
        ("#" * (2 << 20), "c.yaml: larger than 1 MiB (the limit for a config file)"),
    ],
)
def test_train_refuses_hostile_configs_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, line: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(text)
    code, stdout, stderr = invoke("train", "--config", "c.yaml")
    assert code == 2
    assert stderr == f"error: {line}" + stderr[len(line) + 7 :]
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert stdout == ""
    assert not (tmp_path / "runs").exists()


def test_train_refuses_hostile_set_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text("device: cpu\n")
    for item in ("seed=&a 1", "name=" + "[" * 40, "seed=" + "1" * 5000, "name=a/b"):
        code, _, stderr = invoke("train", "--config", "c.yaml", "--set", item)
        assert code == 2, item
        assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert not (tmp_path / "runs").exists()


def test_train_on_a_file_of_an_unknown_users_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = (
        "device: cpu\ndata:\n  source: csv\n  path: ~nosuchuser-sigmoidnet/x.csv\n  labels: [y]\n"
    )
    (tmp_path / "c.yaml").write_text(text)
    code, _, stderr = invoke("train", "--config", "c.yaml")
    assert code == 3
    assert stderr.startswith("error: ") and "~nosuchuser-sigmoidnet" in stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert not (tmp_path / "runs").exists()


def test_config_show_refuses_an_alias(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(BILLION_LAUGHS)
    code, stdout, stderr = invoke("config", "show", "--config", "c.yaml")
    assert code == 2 and stdout == ""
    assert "YAML anchors and aliases are not allowed" in stderr


@pytest.mark.parametrize("key", ["se[d", "function-x", "constrained-y", "literal['a']"])
def test_unknown_keys_that_look_like_pydantic_tags(tmp_path: Path, key: str) -> None:
    # pydantic's union-member names in error locations are dropped, never the user's key
    message = error_of(tmp_path, f'train:\n  "{key}": 1\n')
    assert f"train.{key}: unknown key" in message
