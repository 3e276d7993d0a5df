"""`sigmoidnet train`: train a model from a YAML config and write a run directory, or
continue one (`--resume RUN_DIR`) exactly where its last saved state left off."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sigmoidnet.cli import render
from sigmoidnet.cli._boundary import boundary
from sigmoidnet.cli._options import PATH_CHECKS, SetOpt
from sigmoidnet.errors import DivergenceError, InterruptedError_, UsageError

if TYPE_CHECKING:
    from sigmoidnet.engine import Setup, Trainer
    from sigmoidnet.engine.distributed import World
    from sigmoidnet.rundir import RunDir


@boundary
def train(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="YAML config file (not needed with --resume).", **PATH_CHECKS
        ),
    ] = None,
    set_: SetOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder for runs (overrides out_dir).", **PATH_CHECKS),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option("--device", help="auto | cpu | cuda | cuda:N | mps (overrides device)."),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Continue this run directory from its last saved state, with its own "
            "config (--set train.epochs=N extends it).",
            **PATH_CHECKS,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
    json_: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object per epoch on stdout, nothing else."),
    ] = False,
    nproc: Annotated[
        int | None,
        typer.Option(
            "--nproc",
            min=1,
            help="Train on N data-parallel local processes (torchrun's launcher; gloo on "
            "CPU, one GPU each with nccl). train.batch_size is the global batch.",
        ),
    ] = None,
    nnodes: Annotated[
        int,
        typer.Option("--nnodes", min=1, help="Machines in the job (each runs this command)."),
    ] = 1,
    node_rank: Annotated[
        int, typer.Option("--node-rank", min=0, help="This machine's rank, 0..nnodes-1.")
    ] = 0,
    master_addr: Annotated[
        str | None,
        typer.Option("--master-addr", help="Address of node 0, which hosts the rendezvous."),
    ] = None,
    master_port: Annotated[
        int,
        typer.Option("--master-port", min=1, max=65535, help="Rendezvous port on node 0."),
    ] = 29500,
) -> None:
    """Train a model from a YAML config and write a run directory."""
    overrides = list(set_ or [])
    if device is not None:
        overrides.append(f"device={device}")
    mode = "json" if json_ else ("quiet" if quiet else "rich")
    # Rich draws once from Python's global random when it is first imported (rich.style's
    # id counter): before the run seeds it, so that the state a run saves (and resumes)
    # does not depend on whether its output was rich or quiet
    import rich.style  # noqa: F401

    from sigmoidnet.launch import launched, quiet_cpp_logs

    if launched():  # one rank of a torchrun job (or of --nproc's workers)
        if nproc is not None or nnodes > 1:
            flag = "--nproc" if nproc is not None else "--nnodes"
            raise UsageError(flag, "does not apply under torchrun, which started this process")
        if resume is not None and out is not None:
            raise UsageError("--out", "does not apply to --resume: the run stays where it is")
        from sigmoidnet.cli._ddp import run_rank

        run_rank(config, overrides, out, resume, mode)
        return
    from sigmoidnet.cli._ddp import launch, nodes_of

    nodes = nodes_of(nnodes, node_rank, master_addr, master_port)
    if (nproc is not None and nproc > 1) or nodes is not None:
        quiet_cpp_logs()  # before torch loads
        launch(nproc or 1, nodes, config, set_ or [], out, device, resume, quiet, json_, overrides)
        return
    if resume is not None:
        if out is not None:
            raise UsageError("--out", "does not apply to --resume: the run stays where it is")
        _resume(resume, config, overrides, mode)
        return
    if config is None:
        raise UsageError(
            "--config", "missing: give --config FILE, or --resume RUN_DIR to continue a run"
        )
    from sigmoidnet.config import load_config

    cfg = load_config(config, overrides)
    from sigmoidnet.engine import Trainer, prepare
    from sigmoidnet.engine.resume import data_digest
    from sigmoidnet.rundir import RunDir, unlock_run

    try:
        setup = prepare(cfg)  # everything is checked before anything is written
        trainer = Trainer(setup)
        digest = data_digest(setup.data)  # kept in each state: a resume checks its data
        run = RunDir.create(out if out is not None else cfg.out_dir, cfg.name, setup.cfg)
    except KeyboardInterrupt:  # RunDir.create removes what it had made
        raise _interrupted(None, kept=False) from None
    try:
        _run(setup, trainer, run, mode, digest)
    finally:
        unlock_run(run.path)


def _resume(path: Path, config: Path | None, overrides: list[str], mode: str) -> None:
    from sigmoidnet.rundir import find_resumable, lock_run, unlock_run

    run_path = find_resumable(path)
    lock_run(run_path)
    try:
        _resume_locked(run_path, config, overrides, mode)
    except KeyboardInterrupt:  # before training resumed: the run is as it was
        raise InterruptedError_(
            "train", f"interrupted; continue with: sigmoidnet train --resume {run_path}"
        ) from None
    finally:
        unlock_run(run_path)


def _resume_locked(run_path: Path, config: Path | None, overrides: list[str], mode: str) -> None:
    from sigmoidnet.engine import Trainer, prepare
    from sigmoidnet.engine.checkpoint import load_state
    from sigmoidnet.engine.resume import (
        DECISION_KEYS,
        check_same_data,
        data_digest,
        resume_config,
    )
    from sigmoidnet.rundir import STATE, RunDir, read_status

    status = read_status(run_path)
    _, cfg, changed = resume_config(run_path, overrides, config, status.get("status") == "diverged")
    state = load_state(run_path / STATE)  # a damaged state is exit 4, before anything is done
    refit = bool(set(changed) & DECISION_KEYS)
    complete = _already_complete(state, cfg.train.epochs, run_path, quiet=refit)
    if complete and not refit:
        return
    stored_digest = state.pop("data_digest", None)
    setup = prepare(cfg)
    digest = data_digest(setup.data)
    check_same_data(stored_digest, digest, str(cfg.data.path or "data"))
    if complete:  # only the decisions change: fitted again on the validation rows
        _refit_decisions(setup, run_path, mode)
        return
    trainer = Trainer(setup)
    trainer.load_state_dict(state)
    run = RunDir.reopen(run_path, trainer.history, trainer.best_epoch)
    if changed:  # an extension (or a lower lr after a divergence): the run's config says so
        run.write_config(setup.cfg)
    _run(setup, trainer, run, mode, digest, resumed=True)


def _refit_decisions(setup: Setup, run_path: Path, mode: str) -> None:
    """A complete run resumed with decision.* changed: its decisions fitted again with the
    model it kept, and its config.yaml saying so."""
    from sigmoidnet.rundir import MODEL, RunDir

    run = RunDir(run_path)
    run.has_model = (run_path / MODEL).is_file()
    if not run.has_model:
        raise UsageError("decision", f"{run_path} holds no model to fit decisions for")
    fitted = _fit_decisions(setup, run) if setup.cfg.decision.fitted else None
    if fitted is None:  # back to a number: stored as it is
        from sigmoidnet import artifact

        art = artifact.load(run_path / MODEL)
        t = float(setup.cfg.decision.threshold)
        art.thresholds = [t] * len(art.label_names)
        art.threshold_sources = ["decision.threshold"] * len(art.label_names)
        art.calibration = None
        run.save_model(art)
    run.write_config(setup.cfg)
    render.note(f"{run_path}: complete; its decisions were fitted again (decision.*)")
    if fitted is not None:
        render.decisions_summary(mode, setup.data.label_names, *fitted)


def _already_complete(
    state: dict[str, Any], epochs: int, run_path: Path, quiet: bool = False
) -> bool:
    """True (with a note) when the saved state has nothing left to train: its epochs are
    done, or early stopping ended it and train.epochs was not raised. Fewer epochs than
    the run has done is exit 2."""
    done = int(state.get("epoch", 0))
    step = int(state.get("step_in_epoch", 0) or 0)
    if epochs < done or (epochs == done and step):
        raise UsageError(
            "train.epochs",
            f"{epochs} is fewer than the {done} epochs {run_path} has done; a resume can "
            "only keep or raise it",
        )
    stopped = (state.get("early_stopping") or {}).get("stopped")
    saved_epochs = int(state.get("train_epochs", epochs))
    if done >= epochs or (stopped and epochs <= saved_epochs):
        why = f"early stopping ended it at epoch {done}" if stopped else f"{done} epochs done"
        if quiet:
            return True
        render.note(
            f"{run_path}: already complete ({why}); nothing to do. Extend it with "
            "--set train.epochs=N"
        )
        return True
    return False


class _Silent:
    """The reporter of a DDP run's other ranks: rank 0 prints."""

    def start(self, *args: Any) -> None:
        pass

    def epoch(self, row: dict[str, Any]) -> None:
        pass

    def progress(self, done: int, total: int) -> None:
        pass

    def close(self) -> None:
        pass

    def summary(self, *args: Any) -> None:
        pass


def _run(
    setup: Setup,
    trainer: Trainer,
    run: RunDir,
    mode: str,
    digest: str,
    resumed: bool = False,
    world: World | None = None,
) -> None:
    from sigmoidnet.fsutil import OutputError  # imported already (by the run directory)

    cfg = setup.cfg
    main = world is None or world.main
    run.state_extra["data_digest"] = digest
    try:
        has_val = setup.y_val is not None and setup.y_val.shape[0] > 0
        t = cfg.train
        lr_moves = t.lr_schedule.name != "constant" or t.warmup_epochs > 0
        rep: Any = (
            render.TrainReporter(mode, t.epochs, has_val, lr_column=lr_moves) if main else _Silent()
        )
        try:
            d = setup.data
            notes = list(d.notes)
            if resumed:
                notes.append(_resume_note(trainer, run))
            device = str(setup.device)
            if world is not None and world.active:
                device = f"{device} × {world.size} processes ({world.backend})"
            rep.start(d.description, device, str(run.path), d.columns, notes)
            result = trainer.fit(run, on_epoch=rep.epoch, on_progress=rep.progress)
        finally:
            rep.close()
        stop_reason = str(getattr(result, "stop_reason", "") or "")
        fitted = None
        if cfg.decision.fitted and run.has_model:
            logits = None
            if setup.shard is not None:  # every rank's validation logits, gathered
                assert result.artifact is not None
                logits = trainer.validation_logits(result.artifact.model).cpu().numpy()
            fitted = _fit_decisions(setup, run, logits) if main else None
        status = "early_stopped" if stop_reason.startswith("early stopping") else "finished"
        run.write_status(status, epoch=trainer.epoch, reason=stop_reason)
        early = stop_reason if status == "early_stopped" else ""  # else: train.epochs reached
        rep.summary(result.best_epoch, result.best, str(run.path), result.seconds, early)
        if fitted is not None:
            render.decisions_summary(mode, setup.data.label_names, *fitted)
    except BaseException as e:
        # a run that holds no model and no resumable state is removed (nothing is left
        # behind); one that holds either is kept, and the error line says so
        kept = run.abandon()
        if kept:
            ending = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
            if isinstance(e, DivergenceError):
                ending = "diverged"
            with contextlib.suppress(Exception):
                run.write_status(ending, epoch=trainer.epoch)
        if not main:
            raise
        if isinstance(e, KeyboardInterrupt):
            raise _interrupted(run, kept, world) from None
        if isinstance(e, OutputError):
            raise OutputError(e.where, e.what + _kept(run, kept), e.exit_code) from None
        if isinstance(e, DivergenceError) and run.has_state:
            raise DivergenceError(
                e.where,
                e.what + f"; to continue, lower train.lr: sigmoidnet train --resume {run.path}"
                f"{_nproc(world)} --set train.lr=...",
            ) from None
        from sigmoidnet.engine.distributed import is_collective_failure, peer_lost

        if world is not None and is_collective_failure(e):
            lost = peer_lost(e)
            raise type(lost)(lost.where, lost.what + _kept(run, kept, world)) from None
        raise


def _fit_decisions(
    setup: Setup, run: RunDir, logits: Any = None
) -> tuple[str, list[str | None], list[Any] | None]:
    """With the model kept: fit its calibration (`decision.calibration`), then tune each
    label's threshold (`decision.threshold` as a rule), on the validation rows (or their
    `logits`, gathered from the ranks of a DDP run), and save them in the model. (the
    calibration method, its notes, the `TunedThreshold`s or None)."""
    from sigmoidnet import artifact
    from sigmoidnet.calibrate.tuning import calibrate_artifact, tune_artifact
    from sigmoidnet.rundir import MODEL

    assert setup.x_val is not None and setup.y_val is not None
    d = setup.cfg.decision
    art = artifact.load(run.path / MODEL)
    notes: list[str | None] = []
    art.calibration = None
    if d.calibration != "none":
        notes = calibrate_artifact(art, setup.x_val, setup.y_val, d.calibration, logits)
    tuned = None
    if d.tuned:
        tuned = tune_artifact(art, setup.x_val, setup.y_val, d.threshold, logits)
    else:  # a number: every label's
        art.thresholds = [float(d.threshold)] * len(art.label_names)
        art.threshold_sources = ["decision.threshold"] * len(art.label_names)
    run.save_model(art)
    return d.calibration, notes, tuned


def _resume_note(trainer: Trainer, run: RunDir) -> str:
    step = trainer.step_in_epoch if trainer.partial_epoch else 0
    where = f"epoch {trainer.epoch + 1}, step {step + 1}" if step else f"epoch {trainer.epoch + 1}"
    return f"{run.path}: resumed at {where} from its saved state"


def _nproc(world: World | None) -> str:
    """` --nproc N` for a DDP run's resume command ('' for one process)."""
    return f" --nproc {world.size}" if world is not None and world.active else ""


def _kept(run: RunDir, kept: bool, world: World | None = None) -> str:
    again = f"; continue with: sigmoidnet train --resume {run.path}{_nproc(world)}"
    if kept and run.has_model:
        keep = f"; the best model so far (epoch {run.model_epoch}) is kept in {run.path}"
        return keep + (again if world is not None and run.has_state else "")
    if kept:
        return f"; its resumable state is kept in {run.path}" + (again if world else "")
    return "; no model was saved, nothing is kept"


def _interrupted(run: RunDir | None, kept: bool, world: World | None = None) -> InterruptedError_:
    """The error (exit 130) of a run stopped by Ctrl-C / SIGTERM: what was kept, and where,
    and how to continue it."""
    if run is not None and kept:
        again = (
            f"; continue with: sigmoidnet train --resume {run.path}{_nproc(world)}"
            if run.has_state
            else ""
        )
        if run.has_model:
            return InterruptedError_(
                "train",
                f"interrupted; the best model so far (epoch {run.model_epoch}) is in "
                f"{run.path}{again}",
            )
        return InterruptedError_("train", f"interrupted; no model yet{again}")
    return InterruptedError_("train", "interrupted before a model was saved; nothing is kept")


def register(app: typer.Typer) -> None:
    """Add the `train` command to `app`."""
    app.command("train")(train)
