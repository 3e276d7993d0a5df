"""`sigmoidnet activate`, driven through a tiny Typer app that `register`s it."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from sigmoidnet.activation import logit, sigmoid, sigmoid_array, sigmoid_derivative
from sigmoidnet.cli.activate import RICH_TABLE_LIMIT, SCALAR_LIMIT, register
from tests.cli.util import env

TUTORIAL = ["0.11920292202211756", "0.2689414213699951", "0.5", "0.7310585786300049",
            "0.8807970779778824"]  # fmt: skip

# The same app as a script, for the start-up checks in a fresh interpreter.
APP_SCRIPT = """
import sys, typer
from sigmoidnet.cli.activate import register
app = typer.Typer(add_completion=False)
@app.callback()
def main() -> None:
    "test app"
register(app)
try:
    app(sys.argv[1:], prog_name="sigmoidnet")
except SystemExit as e:
    code = e.code
else:
    code = 0
heavy = sorted(m for m in ("torch", "numpy", "rich", "pydantic", "pandas") if m in sys.modules)
print("HEAVY", heavy, file=sys.stderr)
sys.exit(code)
"""


def make_app() -> typer.Typer:
    app = typer.Typer(add_completion=False)

    @app.callback()
    def main() -> None:
        """test app (a callback keeps `activate` a subcommand)"""

    register(app)
    return app


APP = make_app()
runner = CliRunner()


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(APP, ["activate", *args], input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def lines(text: str) -> list[str]:
    return text.splitlines()


# --- values and arguments ------------------------------------------------------------------


def test_tutorial_values_plain_in_a_pipe() -> None:
    code, out, err = run("-2.0", "-1.0", "0.0", "1.0", "2.0")
    assert (code, err) == (0, "")
    assert lines(out) == TUTORIAL  # plain is the default when stdout is not a terminal


@pytest.mark.parametrize(
    "args",
    [
        ["-2", "-1", "0", "1", "2"],
        ["--format", "plain", "-2", "-1", "0", "1", "2"],
        ["-2", "-1", "--format", "plain", "0", "1", "2"],
        ["-2", "-1", "0", "1", "2", "--format=plain"],
        ["--", "-2", "-1", "0", "1", "2"],
        ["-2", "-1", "--", "0", "1", "2"],
    ],
)
def test_negative_numbers_need_no_double_dash(args: list[str]) -> None:
    code, out, _ = run(*args)
    assert code == 0
    assert lines(out) == TUTORIAL


def test_every_float_syntax() -> None:
    words = ["-inf", "inf", "-Infinity", "nan", "-nan", "-1e-3", "1E3", "-.5", ".5", "+2", "1_000"]
    code, out, err = run(*words)
    assert (code, err) == (0, "")
    assert lines(out) == [repr(sigmoid(float(w))) for w in words]


def test_far_tail_is_not_zero() -> None:
    code, out, _ = run("-800", "-745", "-720", "0", "720", "inf", "nan")
    assert code == 0
    got = lines(out)
    assert got[0] == "0.0"
    assert got[1] == "5e-324"
    assert float(got[2]) == pytest.approx(math.exp(-720.0), rel=1e-12)  # 2.0322308024e-313
    assert float(got[2]) != 0.0
    assert got[3:] == ["0.5", "1.0", "1.0", "nan"]


def test_combining_short_options_cannot_eat_numbers() -> None:
    # `-inf` is a number, not `-i -n -f`; a real unknown short option is an error
    assert run("-inf")[:2] == (0, "0.0\n")
    code, out, err = run("-i", "2")
    assert code == 2
    assert out == ""
    assert err.startswith("error: activate: ") and err.count("\n") == 1


def test_an_options_value_stays_its_value() -> None:
    code, _, err = run("--digits", "-3", "1")
    assert code == 2
    assert err == "error: activate: --digits: expected 1 to 17 significant digits, got '-3'\n"
    code, _, err = run("1", "--file")
    assert code == 2
    assert err == "error: activate: --file needs a value (see --help)\n"


# --- errors ---------------------------------------------------------------------------------


def test_a_word_that_is_not_a_number_is_exit_2_naming_it() -> None:
    code, out, err = run("1", "abc", "2")
    assert code == 2
    assert out == ""
    assert err == "error: activate: 'abc' is not a number\n"


def test_a_bad_word_in_stdin_names_its_line() -> None:
    code, _, err = run(stdin="1 2\n3\n4, x5\n")
    assert code == 2
    assert err == "error: activate: <stdin>: line 3: 'x5' is not a number\n"


@pytest.mark.parametrize("bad", ["1.5", "-0.1", "inf", "-inf"])
def test_inverse_outside_0_1_is_exit_2_naming_the_value(bad: str) -> None:
    code, out, err = run("--inverse", "0.5", bad)
    assert code == 2
    assert out == ""
    assert err == f"error: activate: --inverse: {float(bad)!r} is not a probability in [0, 1]\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xml", "1"], "error: activate: --format: expected one of table, plain, json"),
        (["--digits", "0", "1"], "error: activate: --digits: expected 1 to 17"),
        (["--digits", "x", "1"], "error: activate: --digits: expected 1 to 17"),
        (["--derivative", "--inverse", "1"], "error: activate: --derivative and --inverse"),
        (["--frmat", "csv", "1"], "error: activate: No such option"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_missing_file_is_exit_3(tmp_path: Path) -> None:
    code, _, err = run("--file", str(tmp_path / "nope.txt"))
    assert code == 3
    assert err == f"error: activate: {tmp_path / 'nope.txt'}: no such file\n"


# --- inputs ---------------------------------------------------------------------------------


def test_stdin_when_no_numbers_whitespace_comma_newline() -> None:
    code, out, _ = run(stdin="-2.0, -1.0\n0.0\t1.0,2.0\n")
    assert code == 0
    assert lines(out) == TUTORIAL


def test_dash_reads_stdin_in_place() -> None:
    code, out, _ = run("-2", "-", "2", stdin="-1 0 1")
    assert code == 0
    assert lines(out) == TUTORIAL


def test_empty_stdin_prints_nothing() -> None:
    assert run(stdin="")[:2] == (0, "")
    assert run("--format", "json", stdin="\n")[:2] == (0, "[]\n")


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "xs.txt"
    path.write_text("-2.0\n-1.0, 0.0\n1.0 2.0\n")
    assert run("--file", str(path)) == (0, "\n".join(TUTORIAL) + "\n", "")
    # arguments come first, then the file
    _, out, _ = run("-3", "--file", str(path))
    assert lines(out) == [repr(sigmoid(-3.0)), *TUTORIAL]


def test_npy_file_any_shape_and_dtype(tmp_path: Path) -> None:
    path = tmp_path / "xs.npy"
    np.save(path, np.array([[-2.0, -1.0], [0.0, 1.0]]))
    code, out, _ = run("--file", str(path), "2")
    assert code == 0
    assert lines(out) == [TUTORIAL[4], *TUTORIAL[:4]]  # arguments first
    np.save(path, np.array([-2, -1, 0, 1, 2], dtype=np.int16))
    assert lines(run("--file", str(path))[1]) == TUTORIAL
    np.save(path, np.array(["a", "b"]))
    code, _, err = run("--file", str(path))
    assert code == 3
    assert "expected a numeric array" in err


def test_big_input_takes_the_vectorised_path_with_the_same_values() -> None:
    xs = np.random.default_rng(0).uniform(-800, 800, 3 * SCALAR_LIMIT)
    code, out, _ = run(stdin="\n".join(map(repr, xs.tolist())))
    assert code == 0
    got = [float(v) for v in lines(out)]
    assert got == sigmoid_array(xs).tolist()
    assert got[:50] == [sigmoid(x) for x in xs[:50].tolist()]  # = the scalar path


def test_two_hundred_thousand_numbers_from_a_file(tmp_path: Path) -> None:
    # (speed is measured by `make bench`, not here: timed unit tests are flaky on shared CPUs)
    xs = np.random.default_rng(1).normal(0, 20, 200_000)
    path = tmp_path / "xs.txt"
    path.write_text("\n".join(map(repr, xs.tolist())))
    code, out, _ = run("--file", str(path))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 200_000
    assert lines[:3] == [repr(v) for v in sigmoid_array(xs[:3]).tolist()]


# --- outputs --------------------------------------------------------------------------------


def test_csv() -> None:
    code, out, _ = run("--format", "csv", "-2", "0", "inf", "nan")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["x", "sigmoid"]
    assert rows[1:] == [["-2.0", TUTORIAL[0]], ["0.0", "0.5"], ["inf", "1.0"], ["nan", "nan"]]


def test_json_with_nonfinite_as_strings() -> None:
    code, out, _ = run("--format", "json", "-2", "-inf", "inf", "nan", "-745")
    assert code == 0
    data = json.loads(out)  # strict JSON: no NaN/Infinity literals
    assert data == [
        {"x": -2.0, "value": float(TUTORIAL[0])},
        {"x": "-inf", "value": 0.0},
        {"x": "inf", "value": 1.0},
        {"x": "nan", "value": "nan"},
        {"x": -745.0, "value": 5e-324},
    ]
    assert "NaN" not in out and "Infinity" not in out


def test_table_small_with_rich_and_big_without() -> None:
    code, out, _ = run("--format", "table", "-2", "-1", "0", "1", "2")
    assert code == 0
    assert "x" in out and "sigmoid(x)" in out
    for value in TUTORIAL:
        assert value in out
    n = RICH_TABLE_LIMIT + 1
    code, out, _ = run("--format", "table", stdin=" ".join(["1.0"] * n))
    rows = lines(out)
    assert rows[0].split() == ["x", "sigmoid(x)"]
    assert len(rows) == n + 2
    assert rows[2].split() == ["1.0", repr(sigmoid(1.0))]


def test_digits_shortens_values() -> None:
    code, out, _ = run("--digits", "3", "-2", "-720", "nan")
    assert code == 0
    assert lines(out) == ["0.119", "2.03e-313", "nan"]
    code, out, _ = run("--format", "json", "--digits", "2", "1")
    assert json.loads(out) == [{"x": 1.0, "value": 0.73}]


def test_derivative() -> None:
    code, out, _ = run("--derivative", "--format", "csv", "0", "-740", "40", "inf")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["x", "sigmoid_derivative"]
    values = [float(v) for _, v in rows[1:]]
    assert values[0] == 0.25
    assert 0.0 < values[1] < 1e-320  # a nonzero subnormal
    assert values[2] == pytest.approx(math.exp(-40.0), rel=1e-15)
    assert values[3] == 0.0
    assert values == [sigmoid_derivative(v) for v in (0.0, -740.0, 40.0, math.inf)]
    code, out, _ = run("--derivative", "--format", "table", "1")
    assert "sigmoid'(x)" in out


def test_inverse() -> None:
    code, out, _ = run("--inverse", "--format", "csv", "0", "0.5", "1", "1e-300", "nan")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["p", "logit"]
    assert [v for _, v in rows[1:]] == ["-inf", "0.0", "inf", repr(logit(1e-300)), "nan"]
    code, out, _ = run("--inverse", *TUTORIAL)
    assert [float(v) for v in lines(out)] == pytest.approx([-2.0, -1.0, 0.0, 1.0, 2.0], abs=1e-15)
    code, out, _ = run("--inverse", "--format", "table", "0.5")
    assert "logit(p)" in out


def test_help_mentions_the_formats() -> None:
    result = runner.invoke(APP, ["activate", "--help"])
    assert result.exit_code == 0
    for word in ("--format", "--digits", "--file", "--derivative", "--inverse", "json"):
        assert word in result.stdout


# --- a fresh interpreter: start-up, imports, pipes ------------------------------------------


def run_script(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", APP_SCRIPT, "activate", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def heavy_modules(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if line.startswith("HEAVY"))


def test_activate_imports_no_torch_nor_anything_heavy() -> None:
    proc = run_script("-2", "-1", "0", "1", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == TUTORIAL
    assert heavy_modules(proc.stderr) == "HEAVY []"  # no torch, and not even numpy or rich
    proc = run_script("--format", "json", stdin="1 2 3")
    assert proc.returncode == 0
    assert heavy_modules(proc.stderr) == "HEAVY []"


def test_big_input_imports_numpy_but_not_torch() -> None:
    proc = run_script(stdin=" ".join(["0.5"] * (SCALAR_LIMIT + 1)))
    assert proc.returncode == 0
    assert heavy_modules(proc.stderr) == "HEAVY ['numpy']"


def test_a_closed_pipe_is_quiet() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", APP_SCRIPT, "activate"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # with PYTHONUNBUFFERED a big write into a closed pipe can end short without an error
        env=env(buffered=True),
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(b"1.5\n" * 100_000)
    proc.stdin.close()
    assert proc.stdout.readline() == repr(sigmoid(1.5)).encode() + b"\n"
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.slow
def test_a_million_numbers_from_a_file(tmp_path: Path) -> None:
    # prints the time for a look; not asserted (timed tests are flaky on shared CPUs)
    xs = np.random.default_rng(2).uniform(-800, 800, 1_000_000)
    path = tmp_path / "xs.txt"
    path.write_text("\n".join(map(repr, xs.tolist())))
    start = time.perf_counter()
    proc = run_script("--file", str(path))
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0
    assert proc.stdout.count("\n") == 1_000_000
    print(f"a million numbers: {elapsed:.2f} s")
