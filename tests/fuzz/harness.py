"""Running the CLI on generated input, and what every run must satisfy.

`run_cli(args)` runs `sigmoidnet.cli.main()` in this process (one torch import for the
whole campaign) with its own stdout/stderr, under a time limit (SIGALRM) and a memory limit
(a soft RLIMIT_AS above what the process already maps, raised back afterwards), and returns
what happened. `check_outcome` asserts the contract of the README for a user error: a
documented exit code, exactly one `error: ` line on stderr, no traceback.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

#: exit codes a user can see for bad input (the README's table); 1 is a bug, 5 divergence
DOCUMENTED = {0, 2, 3, 4, 5}
TIME_LIMIT_S = 30
MEMORY_HEADROOM = 3 << 30  # bytes of address space a single run may add


class TimeLimit(Exception):
    pass


@dataclass
class Outcome:
    args: list[str]
    code: int
    stdout: str
    stderr: str
    seconds: float
    bug: str | None  # the traceback of an exception that escaped the CLI

    def describe(self) -> str:
        return (
            f"sigmoidnet {' '.join(self.args)} → exit {self.code} in {self.seconds:.1f} s\n"
            f"stderr: {self.stderr[-2000:]!r}\n" + (self.bug or "")
        )


def _vm_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0  # pragma: no cover - not Linux


@contextlib.contextmanager
def _limits() -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise TimeLimit(f"ran past {TIME_LIMIT_S} s")

    old_alarm = signal.signal(signal.SIGALRM, alarm)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _vm_bytes() + MEMORY_HEADROOM
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    signal.alarm(TIME_LIMIT_S)
    # a run blocked inside native code never sees SIGALRM: then dump every thread's stack
    # and end the process, so that a hang fails the suite loudly instead of stalling CI
    faulthandler.dump_traceback_later(TIME_LIMIT_S + 30, exit=True, file=sys.__stderr__)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.alarm(0)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, old_alarm)


def _stream() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="replace", write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    raw = stream.buffer.getvalue()  # type: ignore[attr-defined]
    return str(raw.decode("utf-8", "replace"))


def run_cli(args: Sequence[str]) -> Outcome:
    from sigmoidnet.cli import main

    out, err = _stream(), _stream()
    old = sys.argv, sys.stdout, sys.stderr
    sys.argv = ["sigmoidnet", *args]
    sys.stdout, sys.stderr = out, err
    code, bug = 0, None
    t0 = time.perf_counter()
    try:
        with _limits():
            main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # a bug, a time-out or memory past the limit
        code, bug = 1, traceback.format_exc()
    finally:
        sys.argv, sys.stdout, sys.stderr = old
    o = Outcome(list(args), code, _text(out), _text(err), time.perf_counter() - t0, bug)
    log = os.environ.get("SIGMOIDNET_FUZZ_LOG")
    if log:
        with open(log, "a") as f:
            f.write(
                f"{o.seconds:6.2f}s exit {o.code} {' '.join(o.args)} | {o.stderr.strip()[:200]}\n"
            )
    return o


def check_outcome(o: Outcome, allowed: set[int] = DOCUMENTED) -> None:
    assert o.bug is None, o.describe()
    assert o.code in allowed, o.describe()
    assert "Traceback" not in o.stderr, o.describe()
    if o.code != 0:
        lines = o.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), o.describe()


def listing(folder: Path) -> list[str]:
    """Every path below `folder`, relative (hidden temporary files included)."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
