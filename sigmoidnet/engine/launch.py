"""`train --nproc N`: N local workers through torchrun's own launcher API
(`torch.distributed.run` / `torch.distributed.launcher.elastic_launch`), each running
`python -m sigmoidnet train ...` as `torchrun --standalone --nproc-per-node N -m sigmoidnet
train ...` would: a c10d rendezvous on a free local port, no restarts. The launcher only
starts and watches the workers; it reports how the job ended (`Outcome`), it never prints."""

from __future__ import annotations

import logging
import os
import signal
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

#: set in the workers' environment: the launcher reports a lost peer or a stop, not them
LAUNCHER_ENV = "SIGMOIDNET_NPROC_LAUNCHER"


@dataclass(frozen=True)
class Outcome:
    """How a launched job ended: `code` 0, or the exit code of its first failure; for a
    worker killed by a signal, its rank, pid and the signal's name (`code` = 128 + N)."""

    code: int
    run_id: str
    rank: int | None = None
    pid: int | None = None
    signal_name: str | None = None


def under_launcher() -> bool:
    return os.environ.get(LAUNCHER_ENV) == "1"


def launch_local(nproc: int, args: Sequence[str]) -> Outcome:
    """Run `python -m sigmoidnet *args` on `nproc` local workers and wait for them."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    run_id = str(uuid.uuid4())
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=run_id,
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        max_restarts=0,
        monitor_interval=0.1,
        start_method="spawn",
    )
    # torchrun's own default for several workers per machine: one thread each, unless set
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    os.environ[LAUNCHER_ENV] = "1"
    # the agent logs every step of its own; its outcome is reported by the caller
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    try:
        elastic_launch(config, sys.executable)("-m", "sigmoidnet", *args)
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        code = int(failure.exitcode)
        if code < 0:  # killed by a signal
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return Outcome(128 - code, run_id, rank, int(failure.pid), name)
        return Outcome(code, run_id, rank, int(failure.pid))
    except SignalException as e:  # Ctrl-C / SIGTERM to the launcher: the workers were stopped
        return Outcome(130, run_id, signal_name=signal.Signals(e.sigval).name)
    finally:
        os.environ.pop(LAUNCHER_ENV, None)
    return Outcome(0, run_id)
