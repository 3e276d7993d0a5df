"""`train` as one rank of a data-parallel job (started by torchrun, or by `train --nproc N`).

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
    except BaseException as e:
        raise _worded(e, world) from None
    finally:
        dist.close_world(world)


def _worded(e: BaseException, world: World) -> BaseException:
    """What a rank raises: a lost peer as one line (from rank 0 only, and not under `train
    --nproc`, whose launcher names the rank that failed); the others' lines are quiet copies
    of rank 0's."""
    from sigmoidnet.engine import distributed as dist
    from sigmoidnet.launch import under_launcher

    if dist.is_collective_failure(e):
        e = dist._peer_lost(e)
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
