"""Helpers of the config tests: a config file in tmp_path, and the one-line error it gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigmoidnet.config import load_config
from sigmoidnet.errors import ConfigError
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
