"""`train --nproc N`: N local workers through torchrun's own launcher API
(`torch.distributed.run` / `torch.distributed.launcher.elastic_launch`), each running
`python -m sigmoidnet train ...` as `torchrun --standalone --nproc-per-node N -m sigmoidnet
train ...` would: a c10d rendezvous on a free local port, no restarts. With `Nodes` (`--nnodes
M --node-rank R --master-addr A --master-port P`), the static rendezvous torchrun uses for
those flags, hosted by node 0 at A:P, with a short timeout (`RDZV_TIMEOUT_S`): a wrong
address, or a node that never comes, fails in well under a minute instead of torchrun's ten.
The launcher only starts and watches the workers; it reports how the job ended (`Outcome`),
it never prints."""

from __future__ import annotations

import logging
import os
import signal
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sigmoidnet.errors import UsageError

#: set in the workers' environment: the launcher reports a lost peer or a stop, not them
LAUNCHER_ENV = "SIGMOIDNET_NPROC_LAUNCHER"
#: how long node 0 of a several-machine job waits for the others at the rendezvous; the
#: others' connection attempts get a third of it each (torchrun's store client tries twice,
#: with a pause of up to as long between): either way a job that cannot meet fails within
#: a minute
RDZV_TIMEOUT_S = int(os.environ.get("SIGMOIDNET_RDZV_TIMEOUT", "45"))


def _rdzv_timeout(node_rank: int) -> int:
    return RDZV_TIMEOUT_S if node_rank == 0 else max(5, RDZV_TIMEOUT_S // 3)


@dataclass(frozen=True)
class Nodes:
    """The machines of a job: `count` nodes, this one `rank`, node 0 at `addr`:`port`."""

    count: int
    rank: int
    addr: str
    port: int


@dataclass(frozen=True)
class Outcome:
    """How a launched job ended: `code` 0, or the exit code of its first failure; for a
    worker killed by a signal, its rank, pid and the signal's name (`code` = 128 + N)."""

    code: int
    run_id: str
    rank: int | None = None
    pid: int | None = None
    signal_name: str | None = None


QUIET_CPP_ENV = "SIGMOIDNET_QUIET_CPP"


def quiet_cpp_logs() -> None:
    """Before torch loads in the launcher (it reads this then): the rendezvous store's C++
    client logs every failed connection with a stack of C++ frames; the outcome is
    reported once, by the caller. Not for the workers (`launch_local` takes it back)."""
    if "TORCH_CPP_LOG_LEVEL" not in os.environ:
        os.environ["TORCH_CPP_LOG_LEVEL"] = "FATAL"
        os.environ[QUIET_CPP_ENV] = "1"


def launched() -> bool:
    """True inside a torchrun worker of a job with more than one process (torch-free: the
    CLI asks before anything heavy is imported)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ
    except ValueError:
        return False


def under_launcher() -> bool:
    return os.environ.get(LAUNCHER_ENV) == "1"


def _rendezvous_error(e: BaseException, nodes: Nodes) -> UsageError:
    """A rendezvous that failed, as the flag to change."""
    text = str(e)
    where = f"{nodes.addr}:{nodes.port}"
    if "EADDRINUSE" in text or "address already in use" in text:
        return UsageError(
            "--master-port",
            f"{nodes.port} is already in use on this machine (node 0 hosts the rendezvous "
            "there): choose another port, the same on every node",
        )
    if "EADDRNOTAVAIL" in text or "cannot assign requested address" in text.lower():
        return UsageError(
            "--master-addr", f"{nodes.addr} is not an address of this machine (node 0)"
        )
    if nodes.rank == 0:
        return UsageError(
            "--nnodes",
            f"the other {nodes.count - 1} node(s) did not all join at {where} within "
            f"{_rdzv_timeout(0)} s: start them with the same --master-addr/--master-port and "
            f"--node-rank 1..{nodes.count - 1}",
        )
    return UsageError(
        "--master-addr",
        f"no rendezvous at {where} (tried twice for {_rdzv_timeout(nodes.rank)} s): start "
        "node 0 (it hosts it) "
        "and check the address, the port and the firewall between the machines",
    )


def launch_local(nproc: int, args: Sequence[str], nodes: Nodes | None = None) -> Outcome:
    """Run `python -m sigmoidnet *args` on `nproc` local workers (of `nodes`, when the job
    spans several machines) and wait for them. A rendezvous that cannot be made is a
    `UsageError` naming the flag to change."""
    import torch.distributed
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if nodes is None:
        run_id = str(uuid.uuid4())
        rdzv: dict[str, object] = {"rdzv_backend": "c10d", "rdzv_endpoint": "localhost:0"}
    else:
        run_id = f"sigmoidnet-{nodes.addr}-{nodes.port}"
        rdzv = {
            "rdzv_backend": "static",
            "rdzv_endpoint": f"{nodes.addr}:{nodes.port}",
            "rdzv_configs": {"rank": nodes.rank, "timeout": _rdzv_timeout(nodes.rank)},
        }
    count = 1 if nodes is None else nodes.count
    config = LaunchConfig(
        min_nodes=count,
        max_nodes=count,
        nproc_per_node=nproc,
        run_id=run_id,
        max_restarts=0,
        monitor_interval=0.1,
        start_method="spawn",
        **rdzv,  # type: ignore[arg-type]
    )
    # torchrun's own default for several workers per machine: one thread each, unless set
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    os.environ[LAUNCHER_ENV] = "1"
    if os.environ.get(QUIET_CPP_ENV) == "1":  # the workers log as they would under torchrun
        os.environ.pop("TORCH_CPP_LOG_LEVEL", None)
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
    except torch.distributed.DistError as e:  # the rendezvous (the workers never started)
        if nodes is None:
            raise
        raise _rendezvous_error(e, nodes) from None
    finally:
        os.environ.pop(LAUNCHER_ENV, None)
        os.environ.pop(QUIET_CPP_ENV, None)
    return Outcome(0, run_id)
