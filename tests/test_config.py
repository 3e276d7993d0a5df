from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sigmoidnet.config import Config, json_schema, load_config
from sigmoidnet.errors import ConfigError
from tests.cli.util import invoke
from tests.engine.test_setup import deadline


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
# Limits: every one is exit 2, one line naming the file (or --set), the place and the limit


def deadline_error_of(tmp_path: Path, text: str | bytes, seconds: float = 30.0) -> str:
    """`error_of` for hostile input: it must be refused without expanding, in bounded time
    (a guard against a hang, not a speed test: pure-Python YAML scans the 200,000 characters
    up to the cap in about 4 s on a busy 2-core machine)."""
    p = tmp_path / "c.yaml"
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    with deadline(seconds), pytest.raises(ConfigError) as exc:
        load_config(p)
    assert exc.value.exit_code == 2
    assert "\n" not in exc.value.message
    return exc.value.message


BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{b}: &{b} [{','.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("train:\n  lr: &x 0.1\n", "c.yaml:2:7"),  # an anchor alone is refused too
        ("a: &x 1\nb: *x\n", "c.yaml:1:4"),
        ("a: &a [*a]\n", "c.yaml:1:4"),  # a cycle
        (BILLION_LAUGHS, "c.yaml:1:4"),
        ("base: &b {lr: 0.1}\ntrain:\n  <<: *b\n", "c.yaml:1:7"),  # YAML 1.1 merge keys
    ],
)
def test_anchors_and_aliases_are_refused(tmp_path: Path, text: str, where: str) -> None:
    msg = deadline_error_of(tmp_path, text)
    assert msg.endswith(
        f"{where}: YAML anchors and aliases are not allowed (a config is plain data)"
    )


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000,
        "name: " + "[" * 100000,
        "{a: " * 5000,
        "".join(f"{'  ' * i}k{i}:\n" for i in range(200)),  # block mappings
        "- " * 3000 + "1\n",
    ],
)
def test_deep_nesting_is_refused_before_recursion(tmp_path: Path, text: str) -> None:
    msg = deadline_error_of(tmp_path, text)
    assert "lists and mappings nest deeper than 32 levels (the limit)" in msg
    assert "c.yaml:" in msg


def test_nesting_up_to_the_limit_is_parsed(tmp_path: Path) -> None:
    # the top mapping is level 1: 31 lists below it are fine (and then a schema error)
    msg = error_of(tmp_path, "name: " + "[" * 31 + "]" * 31 + "\n")
    assert "name: expected a valid string" in msg
    msg = error_of(tmp_path, "name: " + "[" * 32 + "]" * 32 + "\n")
    assert msg.endswith("c.yaml:1:38: lists and mappings nest deeper than 32 levels (the limit)")


def test_file_size_is_capped(tmp_path: Path) -> None:
    limit = 1 << 20
    ok = "name: ok\n" + "#" * (limit - 10) + "\n"
    assert len(ok) == limit
    assert load_config(write(tmp_path, ok)).name == "ok"
    msg = deadline_error_of(tmp_path, ok + "\n")
    assert msg.endswith("c.yaml: larger than 1 MiB (the limit for a config file)")


def test_values_are_capped(tmp_path: Path) -> None:
    names = ", ".join(f"c{i}" for i in range(99_980))
    ok = f"data:\n  source: csv\n  path: t.csv\n  labels: [y]\n  features: [{names}]\n"
    assert len(load_config(write(tmp_path, ok)).data.features or []) == 99_980
    msg = deadline_error_of(tmp_path, "model:\n  hidden_sizes: [" + "1," * 500_000 + "1]\n")
    assert msg.endswith(
        "c.yaml:2:200008: more than 100,000 values (keys, scalars, lists and mappings; the limit)"
    )


def test_only_the_cap_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    reads: list[int] = []
    real_fdopen = os.fdopen

    class Counting:
        def __init__(self, f: Any) -> None:
            self.f = f

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

        def fileno(self) -> int:
            return int(self.f.fileno())

        def read(self, n: int = -1) -> bytes:
            reads.append(n)
            return bytes(self.f.read(n))

    monkeypatch.setattr(os, "fdopen", lambda fd, mode, **k: Counting(real_fdopen(fd, mode, **k)))
    p = write(tmp_path, "#" * (5 << 20))
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        load_config(p)
    assert reads == [(1 << 20) + 1]


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/dev/zero", "not a regular file (a character device)"),
        ("/dev/null", "not a regular file (a character device)"),
    ],
)
def test_special_files_are_not_read(path: str, problem: str) -> None:
    if not Path(path).exists():
        pytest.skip(f"no {path} here")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.message == f"{path}: {problem}"


def test_a_fifo_is_not_waited_on(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "c.yaml"
    os.mkfifo(fifo)
    with deadline(5), pytest.raises(ConfigError) as exc:
        load_config(fifo)
    assert exc.value.message == f"{fifo}: not a regular file (a FIFO)"


def test_directory_and_missing_keep_their_messages(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path)
    assert exc.value.message == f"{tmp_path}: is a directory, expected a YAML file"
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / "no" / "c.yaml")
    assert exc.value.message == f"{tmp_path / 'no' / 'c.yaml'}: config file not found"


def test_not_utf8_and_forbidden_characters(tmp_path: Path) -> None:
    msg = deadline_error_of(tmp_path, b"name: caf\xe9\n")
    assert msg.endswith("c.yaml: not UTF-8 text (byte 0xe9 at offset 9)")
    msg = deadline_error_of(tmp_path, b"seed: 1\nname: a\x00b\n")
    assert msg.endswith("c.yaml:2:8: the character '\\x00' is not allowed in YAML")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("? [a, b]\n: 1\n", "c.yaml:1:3: a key must be a plain name, got a list"),
        ("{[a]: 1}\n", "c.yaml:1:2: a key must be a plain name, got a list"),
        (
            "train:\n  ? {a: 1}\n  : 2\n",
            "c.yaml:2:5: train: a key must be a plain name, got a mapping",
        ),
    ],
)
def test_unhashable_keys(tmp_path: Path, text: str, expected: str) -> None:
    assert deadline_error_of(tmp_path, text).endswith(expected)


def test_huge_integers_name_the_key(tmp_path: Path) -> None:
    msg = deadline_error_of(tmp_path, "seed: " + "1" * 5000 + "\n")
    assert msg.endswith(
        "c.yaml:1:7: seed: an integer of 5000 digits is too long (the limit is 100)"
    )
    msg = deadline_error_of(tmp_path, "model:\n  hidden_sizes: [8, " + "9" * 4301 + "]\n")
    assert "c.yaml:2:21: model.hidden_sizes.1: an integer of 4301 digits is too long" in msg
    msg = deadline_error_of(tmp_path, "seed: 0x" + "f" * 200 + "\n")
    assert "seed: an integer of 200 digits is too long" in msg
    # 100 digits still parse: then it is the schema's range
    msg = error_of(tmp_path, "seed: " + "1" * 100 + "\n")
    assert "seed: expected a value less than 9223372036854775808" in msg


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("seed=&a 1", "--set seed=&a 1:1:1: YAML anchors and aliases are not allowed"),
        ("model.hidden_sizes=" + "[" * 40, "lists and mappings nest deeper than 32 levels"),
        ("seed=" + "7" * 5000, ":1:1: seed: an integer of 5000 digits is too long"),
        ("data.labels=[a, " + "1" * 500 + "]", ":1:5: data.labels.1: an integer of 500 digits"),
        ("data={? [a]: 1}", "1:4: data: a key must be a plain name, got a list"),
        ("x." * 40 + "y=1", "the key nests deeper than 32 levels (the limit)"),
        ("tr\udcffain.lr=1", "--set tr\\udcffain.lr=1: bad key 'tr\\udcffain.lr'"),
        ("name=\udcff", "--set name=\\udcff:1:1: the character '\\udcff' is not allowed in YAML"),
        ("name=a\x01", "--set name=a\\x01:1:2: the character '\\x01' is not allowed in YAML"),
        ("name=" + "a" * ((1 << 20) + 1), "larger than 1 MiB (the limit for a config)"),
    ],
)
def test_set_values_go_through_the_same_limits(tmp_path: Path, item: str, expected: str) -> None:
    msg = error_of(tmp_path, "", (item,))
    assert expected in msg
    assert len(msg) < 300  # a long --set item is shortened in the message


def test_set_depth_counts_the_key(tmp_path: Path) -> None:
    # model (2) → hidden_sizes list (3) → 29 more lists = 32 levels: parsed, then the schema
    ok = "model.hidden_sizes=" + "[" * 30 + "]" * 30
    assert "model.hidden_sizes.0: expected a valid integer" in error_of(tmp_path, "", (ok,))
    deep = "model.hidden_sizes=" + "[" * 31 + "]" * 31
    assert "nest deeper than 32 levels" in error_of(tmp_path, "", (deep,))


# ---------------------------------------------------------------------------------------------
# YAML 1.2 core-schema scalars


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", 12),
        ("+12", 12),
        ("014", 14),  # decimal in YAML 1.2 (1.1 read it as octal 12)
        ("0o14", 12),
        ("0x1A", 26),
        ("0x1a", 26),
        ("!!int 7", 7),
        ("!!int '7'", 7),
    ],
)
def test_yaml12_integers(tmp_path: Path, value: str, expected: int) -> None:
    assert load_config(write(tmp_path, f"seed: {value}\n")).seed == expected


@pytest.mark.parametrize(
    "value",
    ["1_000", "0b101", "1:30", "0x_1A", "0o19", "-0x1A", "+0o7", "1,000", "12e"],
)
def test_yaml11_integers_are_strings(tmp_path: Path, value: str) -> None:
    msg = error_of(tmp_path, f"seed: {value}\n")
    assert msg.endswith(f"seed: expected a valid integer; got '{value}' (str)")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1e-3", 0.001), ("1E3", 1000.0), (".5", 0.5), ("1.", 1.0), ("+2.5e+1", 25.0), ("3", 3)],
)
def test_yaml12_floats(tmp_path: Path, value: str, expected: float) -> None:
    assert load_config(write(tmp_path, f"train:\n  lr: {value}\n")).train.lr == expected


@pytest.mark.parametrize("value", ["1_0.5", "1:30.0", "0x1p3", "1e-3_0"])
def test_yaml11_floats_are_strings(tmp_path: Path, value: str) -> None:
    msg = error_of(tmp_path, f"train:\n  lr: {value}\n")
    assert msg.endswith(f"train.lr: expected a valid number; got '{value}' (str)")


@pytest.mark.parametrize("value", [".inf", "-.Inf", ".NaN", "+.INF"])
def test_no_key_takes_nan_or_infinity(tmp_path: Path, value: str) -> None:
    assert "train.lr: expected a finite number" in error_of(tmp_path, f"train:\n  lr: {value}\n")


def test_other_yaml11_types_are_strings(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "name: 2024-01-01\ndata:\n  val_fraction: ~\n"))
    assert cfg.name == "2024-01-01"  # not a date
    assert cfg.data.val_fraction == 0.0  # ~ is null: the default for random data
    assert "=: unknown key" in error_of(tmp_path, "'=': 1\n")
    assert "train.<<: unknown key" in error_of(tmp_path, "train:\n  <<: {lr: 0.5}\n")
    for word in ("True", "TRUE", "true"):
        assert "got true (bool)" in error_of(tmp_path, f"seed: {word}\n")
    assert "got 'Yes' (str)" in error_of(tmp_path, "seed: Yes\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("seed: !!int 0b1\n", "c.yaml:1:7: seed: '0b1' is not a YAML 1.2 integer"),
        ("train:\n  lr: !!float 1_0\n", "c.yaml:2:7: train.lr: '1_0' is not a YAML 1.2 float"),
        ("seed: !!bool yes\n", "seed: 'yes' is not a YAML 1.2 boolean (true or false)"),
        ("name: !!binary aGk=\n", "YAML tag 'tag:yaml.org,2002:binary' is not allowed"),
        ("name: !!timestamp 2024-01-01\n", "YAML tag 'tag:yaml.org,2002:timestamp' is not"),
        ("data: !!set {a, b}\n", "YAML tag 'tag:yaml.org,2002:set' is not allowed"),
        ("name: !mine x\n", "YAML tag '!mine' is not allowed"),
        ("name: !!str [a]\n", "c.yaml:1:7: name: expected a scalar for tag"),
    ],
)
def test_only_core_schema_tags(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_of(tmp_path, text)


def test_explicit_str_tag(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "name: !!str 12\n")).name == "12"


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


TABLE = "data: {source: csv, path: x.csv, labels: [y]"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("categorical: [y]", "column 'y' is a label; it cannot be in 'categorical'"),
        ("numeric: [a], categorical: [a]", "column 'a' is in both 'categorical' and 'numeric'"),
        ("exclude: [a], numeric: [a]", "column 'a' is in both 'exclude' and 'numeric'"),
        ("features: [a], categorical: [b]", "column 'b' is in 'categorical' but not in 'features'"),
        ("positive: {z: yes}", "'positive' names 'z', which is not a label column ['y']"),
        ("max_categories: 0", "max_categories"),
        ("impute: zero", "impute"),
        ("delimiter: ':'", "delimiter"),
    ],
)
def test_table_keys_agree_with_each_other(tmp_path: Path, extra: str, expected: str) -> None:
    assert expected in error_of(tmp_path, f"{TABLE}, {extra}}}\n")


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
