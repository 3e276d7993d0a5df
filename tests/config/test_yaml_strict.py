from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sigmoidnet.config import load_config
from sigmoidnet.errors import ConfigError
from tests.config.util import BILLION_LAUGHS, deadline_error_of, error_of, write
from tests.engine.test_setup import deadline

# ---------------------------------------------------------------------------------------------
# Limits: every one is exit 2, one line naming the file (or --set), the place and the limit


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
