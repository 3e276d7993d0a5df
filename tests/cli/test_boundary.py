"""The one error boundary: every command turns a SigmoidnetError into one line + its exit
code, an interruption (Ctrl-C, SIGTERM) into one line + exit 130, and a reader that has gone
(`| head`) into a quiet exit 0."""

from __future__ import annotations

import signal
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sigmoidnet import cli
from sigmoidnet.cli import _boundary, app, config_app, render
from sigmoidnet.cli import activate as activate_cmd
from sigmoidnet.errors import DataError
from tests.cli.util import cli_process, env, invoke
from tests.conftest import write_learnable_csv

# every command, with the core function its body calls first (module, attribute)
COMMANDS: list[tuple[list[str], str, str]] = [
    (["train", "--config", "c.yaml"], "sigmoidnet.config", "load_config"),
    (["eval"], "sigmoidnet.inference", "evaluate_model"),
    (["predict", "--checkpoint", "m", "--data", "d.csv"], "sigmoidnet.inference", "predict_file"),
    (["config", "show", "--config", "c.yaml"], "sigmoidnet.config", "load_config"),
    (["config", "schema"], "sigmoidnet.config", "json_schema"),
]
IDS = [" ".join(args[:2]) for args, _, _ in COMMANDS]


def fake_core(
    monkeypatch: pytest.MonkeyPatch, module: str, attr: str, error: BaseException
) -> None:
    """Replace the core module that a command body imports with one whose `attr` raises."""

    def raises(*args: Any, **kwargs: Any) -> Any:
        raise error

    fake = types.ModuleType(module)
    setattr(fake, attr, raises)
    monkeypatch.setitem(sys.modules, module, fake)


def test_every_command_and_the_version_callback_run_inside_the_boundary() -> None:
    wrapper_code = _boundary.boundary(lambda: None).__code__
    callbacks: dict[str, Callable[..., Any] | None] = {}
    for typer_app, prefix in ((app, ""), (config_app, "config ")):
        for info in typer_app.registered_commands:
            callbacks[prefix + str(info.name)] = info.callback
    assert set(callbacks) == {"train", "eval", "predict", "init", "activate", "config show",
                              "config schema", "export", "report"}  # fmt: skip
    for name, callback in callbacks.items():
        assert callback is not None and callback.__code__ is wrapper_code, name
    assert cli._version.__code__ is wrapper_code  # --version


@pytest.mark.parametrize(("args", "module", "attr"), COMMANDS, ids=IDS)
def test_a_sigmoidnet_error_is_one_line_and_its_exit_code(
    monkeypatch: pytest.MonkeyPatch, args: list[str], module: str, attr: str
) -> None:
    fake_core(monkeypatch, module, attr, DataError("d.csv", "column 'zz' not found"))
    code, out, err = invoke(*args)
    assert (code, out, err) == (3, "", "error: d.csv: column 'zz' not found\n")


def test_activate_goes_through_the_same_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    def raises(*args: Any) -> Any:
        raise DataError("activate: x.txt", "boom")

    monkeypatch.setattr(activate_cmd, "_compute", raises)
    assert invoke("activate", "1") == (3, "", "error: activate: x.txt: boom\n")


@pytest.mark.parametrize(("args", "module", "attr"), COMMANDS, ids=IDS)
def test_a_broken_pipe_is_a_quiet_exit_0(
    monkeypatch: pytest.MonkeyPatch, args: list[str], module: str, attr: str
) -> None:
    fake_core(monkeypatch, module, attr, BrokenPipeError(32, "Broken pipe"))
    assert invoke(*args) == (0, "", "")


@pytest.mark.parametrize("args", [["activate", "1"], ["--version"]])
def test_a_broken_pipe_in_rendering_is_a_quiet_exit_0(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    def raises(s: str) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(render, "text", raises)
    assert invoke(*args) == (0, "", "")


INTERRUPTED = {
    "train": "error: train: interrupted\n",  # before the run directory: nothing to keep
    "eval": "error: eval: interrupted\n",
    "predict": "error: predict: interrupted; the CSV on stdout is incomplete\n",
    "config show": "error: config show: interrupted\n",
    "config schema": "error: config schema: interrupted\n",
}


@pytest.mark.parametrize(("args", "module", "attr"), COMMANDS, ids=IDS)
def test_an_interruption_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, args: list[str], module: str, attr: str
) -> None:
    fake_core(monkeypatch, module, attr, KeyboardInterrupt())
    name = " ".join(args[:2]) if args[0] == "config" else args[0]
    assert invoke(*args) == (130, "", INTERRUPTED[name])


def test_activate_and_version_interrupted(monkeypatch: pytest.MonkeyPatch) -> None:
    def raises(*args: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(activate_cmd, "_compute", raises)
    assert invoke("activate", "1") == (130, "", "error: activate: interrupted\n")
    monkeypatch.setattr(render, "text", raises)
    assert invoke("--version") == (130, "", "error: sigmoidnet: interrupted\n")


def test_sigterm_is_an_interruption_while_a_command_runs() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), _boundary.interrupts():
        assert signal.getsignal(signal.SIGTERM) is not before[0]
        signal.raise_signal(signal.SIGTERM)
        pytest.fail("SIGTERM did not interrupt")  # pragma: no cover
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    with pytest.raises(KeyboardInterrupt), _boundary.interrupts():
        signal.raise_signal(signal.SIGINT)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_second_signal_does_not_cut_the_clean_up_short() -> None:
    cleaned = []
    with pytest.raises(KeyboardInterrupt), _boundary.interrupts():
        try:
            signal.raise_signal(signal.SIGTERM)
        finally:
            signal.raise_signal(signal.SIGINT)  # ignored: the clean-up goes on
            signal.raise_signal(signal.SIGTERM)
            cleaned.append(True)
    assert cleaned == [True]


def test_an_ignored_signal_stays_ignored() -> None:
    old = signal.signal(signal.SIGTERM, signal.SIG_IGN)  # `nohup`, a background job
    try:
        with _boundary.interrupts():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
            signal.raise_signal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, old)


def test_anything_else_is_a_bug_with_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_core(monkeypatch, "sigmoidnet.inference", "evaluate_model", RuntimeError("a bug"))
    with pytest.raises(RuntimeError, match="a bug"):
        invoke("eval")


# --- a fresh interpreter whose stdout reader goes away ---------------------------------------


def closed_early(
    args: list[str], read_lines: int = 0, buffered: bool = True
) -> tuple[int, list[bytes], str]:
    """Run the CLI, read `read_lines` lines of its stdout and close it (`| head -N`; with 0,
    before the CLI has written anything); (exit code, lines read, stderr)."""
    proc = cli_process(*args, buffered=buffered)
    assert proc.stdout is not None and proc.stderr is not None
    got = [proc.stdout.readline() for _ in range(read_lines)]
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), got, err


@pytest.fixture
def many_rows(tmp_path: Path) -> Path:
    """20,000 rows: about 1 MB of predictions, far more than a pipe holds."""
    return write_learnable_csv(tmp_path / "many.csv", n=20_000)


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_predict_to_stdout_into_head_exits_0_quietly(
    trained_run: Path, many_rows: Path, buffered: bool
) -> None:
    ckpt = str(trained_run / "model.safetensors")
    code, got, err = closed_early(
        ["predict", "--checkpoint", ckpt, "--data", str(many_rows), "--keep", "id"],
        read_lines=2,
        buffered=buffered,
    )
    assert got[0].decode().replace('"', "").strip() == "id,p_a,p_b,a_pred,b_pred"
    assert got[1].startswith(b'"r0",')
    assert (code, err) == (0, "")


@pytest.mark.parametrize("json_", [["--json"], []], ids=["json", "table"])
def test_eval_into_a_closed_pipe_exits_0_quietly(trained_run: Path, json_: list[str]) -> None:
    assert closed_early(["eval", "--run", str(trained_run), *json_]) == (0, [], "")


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_config_into_a_closed_pipe_exits_0_quietly(learnable_config: Path, buffered: bool) -> None:
    show = ["config", "show", "--config", str(learnable_config)]
    assert closed_early(show, buffered=buffered) == (0, [], "")
    assert closed_early(["config", "schema"], buffered=buffered) == (0, [], "")


@pytest.mark.parametrize(
    "args",
    [["activate", "-2", "-1", "0", "1", "2"], ["activate", "--format", "table", "1"],
     ["--version"], ["--help"], ["predict", "--help"], []],
    ids=["activate", "activate-table", "version", "help", "predict-help", "bare"],
)  # fmt: skip
def test_small_outputs_into_a_closed_pipe_exit_0_quietly(args: list[str]) -> None:
    assert closed_early(args) == (0, [], "")


def run_script(script: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script],
        text=True,
        env=env(buffered=True),
        timeout=120,
        check=False,
        **kwargs,
    )


WITH_COMMAND = """
import sys
from sigmoidnet.cli import app, main

@app.command("extra")
def extra() -> None:
    {body}

sys.argv = ["sigmoidnet", "extra"]
main()
"""


def test_a_broken_pipe_at_the_final_flush_exits_0_quietly() -> None:
    # written to the buffer without a flush: the pipe's closing is noticed only at exit
    script = WITH_COMMAND.format(body='sys.stdout.write("buffered\\n")')
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(buffered=True),
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert (proc.wait(timeout=120), err) == (0, "")


def test_an_exit_1_with_stdout_at_devnull_stays_1() -> None:
    # main() reads an exit 1 that leaves stdout at /dev/null as rich's broken-pipe exit
    # only when stdout was not /dev/null already
    proc = run_script(
        WITH_COMMAND.format(body="sys.exit(1)"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert (proc.returncode, proc.stderr) == (1, "")


@pytest.mark.parametrize(
    "error",
    [
        MemoryError(),
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: "
            "can't allocate memory: you tried to allocate 240000000 bytes"
        ),
    ],
    ids=["MemoryError", "torch-allocator"],
)
def test_an_allocation_that_fails_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    fake_core(monkeypatch, "sigmoidnet.inference", "evaluate_model", error)
    code, _, stderr = invoke("eval")
    assert code == 2
    assert stderr.startswith("error: eval: out of memory") and stderr.count("\n") == 1


def test_other_runtime_errors_stay_bugs(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_core(monkeypatch, "sigmoidnet.inference", "evaluate_model", RuntimeError("a bug"))
    with pytest.raises(RuntimeError, match="a bug"):
        invoke("eval")
