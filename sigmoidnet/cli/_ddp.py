"""`train --nproc N` / `--nnodes M`: the checks made before any worker starts, and the
launch (`launch`); and `train` as one rank of a data-parallel job, started by torchrun or by
that launch (`run_rank`).

Every rank loads the config and the data and fits the same preprocessing; rank 0 alone
creates (or reopens) the run directory, writes in it, and prints; a step every rank takes
on its own (the config, the data, the run directory, the state) is followed by
`distributed.agree`, so a failure anywhere stops every rank with one line, from rank 0.

Restarts: torchrun's `--max-restarts` starts the workers again with the same arguments and
the same job id (`TORCHELASTIC_RUN_ID`); rank 0 finds the run this job started (its
`status.json` holds the id) and every rank resumes it from its last state.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from sigmoidnet.cli import render
from sigmoidnet.errors import SigmoidnetError, UsageError

if TYPE_CHECKING:
    from sigmoidnet.config import Config
    from sigmoidnet.engine.distributed import World


class RankSink:
    """The run directory of ranks other than 0: they write nothing."""

    def __init__(self) -> None:
        self.path = Path(".")
        self.has_model = False
        self.model_epoch: int | None = None
        self.has_state = False
        self.state_extra: dict[str, Any] = {}
        self.status_extra: dict[str, Any] = {}

    def log_epoch(self, row: dict[str, Any]) -> None:
        pass

    def save_model(self, artifact: Any) -> None:
        self.has_model = True

    def save_state(self, state: dict[str, Any]) -> None:
        self.has_state = True

    def write_status(self, status: str, **info: Any) -> None:
        pass

    def write_config(self, cfg: Config) -> None:
        pass

    def abandon(self) -> bool:
        return False


def nodes_of(nnodes: int, node_rank: int, addr: str | None, port: int) -> Any:
    """The machines of a several-node job (None: this machine alone)."""
    if nnodes == 1:
        if node_rank != 0 or addr is not None:
            flag = "--node-rank" if node_rank != 0 else "--master-addr"
            raise UsageError(flag, "applies to a job of several machines: give --nnodes too")
        return None
    if node_rank >= nnodes:
        raise UsageError("--node-rank", f"{node_rank} is not below --nnodes {nnodes}")
    if addr is None:
        raise UsageError(
            "--master-addr", "missing: the address of node 0 (the same on every machine)"
        )
    from sigmoidnet.launch import Nodes

    return Nodes(nnodes, node_rank, addr, port)


def launch(
    nproc: int,
    nodes: Any,
    config: Path | None,
    sets: list[str],
    out: Path | None,
    device: str | None,
    resume: Path | None,
    quiet: bool,
    json_: bool,
    overrides: list[str],
) -> None:
    """`--nproc N` (and `--nnodes`): what can be checked here is checked before any worker
    starts (the config, the run to resume, the GPUs); then N workers run this command
    without --nproc. (The run to resume is on node 0: the other nodes get it from there.)"""
    from sigmoidnet.config import load_config
    from sigmoidnet.rundir import find_resumable

    total = nproc * (1 if nodes is None else nodes.count)
    out_dir: Path | str | None = None
    if resume is not None:
        if out is not None:
            raise UsageError("--out", "does not apply to --resume: the run stays where it is")
        cfg = None
        if nodes is None or nodes.rank == 0:
            run_path = find_resumable(resume)
            cfg = load_config(run_path / "config.yaml", overrides)
            out_dir = run_path.parent
    else:
        if config is None:
            raise UsageError(
                "--config", "missing: give --config FILE, or --resume RUN_DIR to continue a run"
            )
        cfg = load_config(config, overrides)
        out_dir = out if out is not None else cfg.out_dir
    if cfg is not None:
        check_launch(cfg, nproc, total)
    args = ["train"]
    if config is not None:
        args += ["--config", str(config)]
    for s in sets:
        args += ["--set", s]
    if out is not None:
        args += ["--out", str(out)]
    if device is not None:
        args += ["--device", device]
    if resume is not None:
        args += ["--resume", str(resume)]
    args += ["--quiet"] if quiet else []
    args += ["--json"] if json_ else []
    from sigmoidnet.launch import launch_local

    outcome = launch_local(nproc, args, nodes)
    if outcome.code != 0:
        again = f"--nproc {nproc}" if nodes is None else "with the same flags on every node"
        render_outcome(outcome, again, out_dir)
        raise typer.Exit(outcome.code)


def check_launch(cfg: Any, nproc: int, total: int) -> None:
    """Before any worker starts: a GPU per local process, a global batch of a row or more
    per process."""
    dev = cfg.device
    if dev.startswith("cuda"):
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if gpus < nproc:
            raise UsageError(
                "--nproc", f"{nproc} processes need a GPU each, but this machine has {gpus}"
            )
    if cfg.train.batch_size < total:
        raise UsageError(
            "train.batch_size",
            f"{cfg.train.batch_size} is the global batch, split across {total} processes: it "
            f"must be at least {total}",
        )


def _device_hint(overrides: list[str], cfg: Config | None) -> str:
    for o in reversed(overrides):
        if o.startswith("device="):
            return o.split("=", 1)[1]
    return cfg.device if cfg is not None else "auto"


def run_rank(
    config: Path | None, overrides: list[str], out: Path | None, resume: Path | None, mode: str
) -> None:
    """One rank's `train`: join the job, agree on the config, train or resume."""
    from sigmoidnet.config import load_config
    from sigmoidnet.engine import distributed as dist

    cfg: Config | None = None
    error: BaseException | None = None
    try:
        if resume is None:
            if config is None:
                raise UsageError("--config", "missing: give --config FILE, or --resume RUN_DIR")
            cfg = load_config(config, overrides)
    except SigmoidnetError as e:
        error = e
    world = dist.init_world(_device_hint(overrides, cfg))
    try:
        dist.agree(error, world)
        if not world.main:
            from sigmoidnet.cli._boundary import silence_stdout

            silence_stdout()
        run_path = _run_to_resume(resume, cfg, out, world)
        if run_path is None:
            assert cfg is not None
            _fresh(cfg, out, mode, world)
        else:
            _resumed(run_path, config if resume is not None else None, overrides, mode, world)
        dist.barrier(world)  # done: no rank tears down while another still talks to it
    except BaseException as e:
        if isinstance(e, dist.RankError):  # every rank raised it at the same point
            _meet(world)
        raise _worded(e, world) from None
    finally:
        dist.close_world(world)


def _meet(world: World) -> None:
    """A barrier before tearing down after an agreed failure, so that no rank closes its
    connections while another still talks to it (gloo then aborts the process at exit:
    "terminate called without an active exception", exit 134 instead of the error's own
    code); a peer that is already gone is no reason to fail again."""
    import contextlib

    from sigmoidnet.engine import distributed as dist

    with contextlib.suppress(Exception):  # the agreed error is the one to report
        dist.barrier(world)


def _worded(e: BaseException, world: World) -> BaseException:
    """What a rank raises: a lost peer as one line (from rank 0 only, and not under `train
    --nproc`, whose launcher names the rank that failed); the others' lines are quiet copies
    of rank 0's."""
    from sigmoidnet.engine import distributed as dist
    from sigmoidnet.launch import under_launcher

    if dist.is_collective_failure(e):
        e = dist.peer_lost(e)
    if isinstance(e, dist.PeerLostError):
        e.quiet = not world.main or under_launcher()  # type: ignore[attr-defined]
        return e
    if isinstance(e, KeyboardInterrupt | SigmoidnetError):
        quiet = not world.main or (
            under_launcher() and (isinstance(e, KeyboardInterrupt) or e.exit_code == 130)
        )
        if isinstance(e, KeyboardInterrupt):
            from sigmoidnet.errors import InterruptedError_

            e = InterruptedError_("train", "interrupted")
        if quiet:
            e.quiet = True  # type: ignore[attr-defined]
        return e
    return e


def _run_to_resume(
    resume: Path | None, cfg: Config | None, out: Path | None, world: World
) -> Path | None:
    """The run every rank continues (found by rank 0): `--resume RUN_DIR`, or after a
    torchrun restart the run this job started; None: a new run."""
    from sigmoidnet.engine import distributed as dist
    from sigmoidnet.rundir import find_launch_run, find_resumable

    found: Path | None = None
    error: BaseException | None = None
    if world.main:
        try:
            if resume is not None:
                found = find_resumable(resume)
            elif dist.restart_count() > 0 and cfg is not None:
                found = find_launch_run(out if out is not None else cfg.out_dir, dist.launch_id())
        except SigmoidnetError as e:
            error = e
    dist.agree(error, world)
    path = dist.broadcast_object(None if found is None else str(found), world)
    return None if path is None else Path(path)


def _fresh(cfg: Config, out: Path | None, mode: str, world: World) -> None:
    from sigmoidnet.cli.train import _run
    from sigmoidnet.engine import Trainer, prepare
    from sigmoidnet.engine import distributed as dist
    from sigmoidnet.rundir import RunDir, unlock_run

    error: BaseException | None = None
    try:
        setup = prepare(cfg, dist.local_device(world, cfg.device), world)
        trainer = Trainer(setup)
    except SigmoidnetError as e:
        error = e
    dist.agree(error, world)
    sink: Any = RankSink()
    if world.main:
        try:
            sink = RunDir.create(out if out is not None else cfg.out_dir, cfg.name, setup.cfg)
            sink.status_extra = {"launch": dist.launch_id(), "world_size": world.size}
            sink.write_status("running")
        except SigmoidnetError as e:
            error = e
    dist.agree(error, world)
    assert setup.digest is not None
    try:
        _run(setup, trainer, sink, mode, setup.digest, world=world)
    finally:
        if world.main:
            unlock_run(sink.path)


def _resumed(
    run_path: Path, config: Path | None, overrides: list[str], mode: str, world: World
) -> None:
    """Continue `run_path` on every rank: rank 0 reads its config and state (the run
    directory is on rank 0's machine) and hands them to the others."""
    from sigmoidnet.cli.train import _already_complete, _run
    from sigmoidnet.engine import Trainer, prepare
    from sigmoidnet.engine import distributed as dist
    from sigmoidnet.engine.checkpoint import load_state
    from sigmoidnet.engine.resume import DECISION_KEYS, check_same_data, resume_config
    from sigmoidnet.rundir import STATE, RunDir, lock_run, read_status, unlock_run

    error: BaseException | None = None
    payload: Any = None
    if world.main:
        try:
            lock_run(run_path)
            status = read_status(run_path)
            diverged = status.get("status") == "diverged"
            _, cfg, changed = resume_config(run_path, overrides, config, diverged)
            state = load_state(run_path / STATE)
            if set(changed) & DECISION_KEYS and _already_complete(
                state, cfg.train.epochs, run_path, quiet=True
            ):
                raise UsageError(
                    "decision",
                    "fitting the decisions of a complete run again needs no other processes: "
                    f"run sigmoidnet train --resume {run_path} without --nproc",
                )
            complete = _already_complete(state, cfg.train.epochs, run_path)
            payload = (cfg, changed, None if complete else state, complete, status)
        except SigmoidnetError as e:
            error = e
    try:
        dist.agree(error, world)
        cfg, changed, state, complete, status = dist.broadcast_object(payload, world)
        if complete:
            return
        stored_digest = state.pop("data_digest", None)
        try:
            setup = prepare(cfg, dist.local_device(world, cfg.device), world)
            assert setup.digest is not None
            check_same_data(stored_digest, setup.digest, str(cfg.data.path or "data"))
            trainer = Trainer(setup)
            trainer.load_state_dict(state)
            error = None
        except SigmoidnetError as e:
            error = e
        dist.agree(error, world)
        sink: Any = RankSink()
        if world.main:
            sink = RunDir.reopen(run_path, trainer.history, trainer.best_epoch)
            sink.status_extra = {
                "launch": dist.launch_id() or status.get("launch", ""),
                "world_size": world.size,
            }
            if changed:
                sink.write_config(setup.cfg)
            with contextlib.suppress(SigmoidnetError):
                sink.write_status("running")
        assert setup.digest is not None
        _run(setup, trainer, sink, mode, setup.digest, resumed=True, world=world)
    finally:
        if world.main:
            unlock_run(run_path)


def render_outcome(outcome: Any, again: str, out_dir: str | Path | None) -> None:
    """The launcher's one line for a job that failed without saying why itself: a worker
    killed by a signal, or the job stopped; with where its state is, and how to continue."""
    from sigmoidnet.rundir import find_launch_run

    run = None
    if out_dir is not None:
        with contextlib.suppress(SigmoidnetError, OSError):
            run = find_launch_run(out_dir, outcome.run_id)
    from sigmoidnet.rundir import STATE

    if run is not None and (run / STATE).is_file():
        hint = f"; its state is kept: continue with sigmoidnet train --resume {run} {again}"
    elif run is not None:
        hint = f"; no state had been saved yet in {run}"
    else:
        hint = ""
    if outcome.code == 130:
        render.error(f"train: interrupted{hint}")
    elif outcome.signal_name is not None:
        render.error(
            f"train: rank {outcome.rank} (pid {outcome.pid}) was killed by "
            f"{outcome.signal_name}; the other workers were stopped{hint}"
        )
