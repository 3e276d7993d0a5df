"""sigmoidnet.engine: setup and the Trainer (loop, state, divergence, devices)."""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from sigmoidnet.artifact import Artifact
from sigmoidnet.config import Config, load_config
from sigmoidnet.engine import (
    Trainer,
    fit,
    make_artifact,
    pos_weight_tensor,
    prepare,
    resolve_device,
)
from sigmoidnet.errors import ConfigError, DivergenceError, UsageError


class ListSink:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.saved: list[Artifact] = []
        self.states: list[dict[str, Any]] = []

    def log_epoch(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def save_model(self, artifact: Artifact) -> None:
        self.saved.append(artifact)

    def save_state(self, state: dict[str, Any]) -> None:
        self.states.append(state)


def test_loss_falls_on_a_learnable_problem(learnable_config: Path) -> None:
    cfg = load_config(learnable_config, ["train.epochs=15"])
    sink = ListSink()
    result = fit(prepare(cfg), sink)
    losses = [r["train_loss"] for r in result.history]
    assert losses[-1] < 0.6 * losses[0]
    assert result.history[-1]["val_accuracy"] > 0.85
    assert sink.rows == result.history
    assert set(result.history[0]) == {
        "epoch", "train_loss", "val_loss", "val_accuracy", "val_f1", "val_roc_auc", "lr",
        "seconds", "rows_per_s",
    }  # fmt: skip
    assert {r["lr"] for r in result.history} == {0.01}  # the constant schedule
    assert result.stop_reason == "reached train.epochs (15)"
    # a state at every epoch's end, after its row and its model
    assert [st["epoch"] for st in sink.states] == list(range(1, 16))
    assert all(st["step_in_epoch"] == 0 for st in sink.states)
    # the saved model is the one with the best validation loss
    best = min(result.history, key=lambda r: r["val_loss"])
    assert result.best_epoch == best["epoch"]
    assert sink.saved[-1].epoch == best["epoch"]


def test_same_seed_same_result(learnable_config: Path) -> None:
    def losses() -> list[float]:
        cfg = load_config(learnable_config, ["train.epochs=3"])
        return [r["train_loss"] for r in fit(prepare(cfg)).history]

    assert losses() == losses()


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_optimizers_train(learnable_config: Path, optimizer: str) -> None:
    lr = "0.1" if optimizer == "sgd" else "0.01"
    cfg = load_config(
        learnable_config, [f"train.optimizer={optimizer}", f"train.lr={lr}", "train.epochs=4"]
    )
    hist = fit(prepare(cfg)).history
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]


def test_partial_last_batch_is_weighted(learnable_config: Path) -> None:
    # 320 training rows, batch 300: one full and one 20-row batch
    cfg = load_config(learnable_config, ["train.batch_size=300", "train.epochs=1"])
    s = prepare(cfg)
    model_copy = make_artifact(s, 0, {}).model
    trainer = Trainer(s)
    loss = trainer.train_epoch()
    assert torch.isfinite(loss)
    assert model_copy is not s.model
    # the epoch loss is the mean over rows, not over batches: (300·1 + 20·4) / 320
    batch_losses = iter([torch.tensor(1.0), torch.tensor(4.0)])
    trainer.step = lambda xb, yb: next(batch_losses)
    assert float(trainer.train_epoch()) == pytest.approx((300 * 1.0 + 20 * 4.0) / 320)


def test_pos_weight_auto(learnable_config: Path) -> None:
    cfg = load_config(learnable_config, ["train.pos_weight=auto"])
    y = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    w = pos_weight_tensor(cfg, y)
    assert w is not None
    torch.testing.assert_close(w, torch.tensor([1.0, 3.0]))
    cfg2 = load_config(learnable_config, ["train.pos_weight=[2, 0.5]"])
    torch.testing.assert_close(pos_weight_tensor(cfg2, y), torch.tensor([2.0, 0.5]))


def test_divergence_keeps_last_good_model(
    learnable_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Trainer.train_epoch
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> torch.Tensor:
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return torch.tensor(float("nan")) if calls["n"] == 3 else loss

    monkeypatch.setattr(Trainer, "train_epoch", flaky)
    sink = ListSink()
    cfg = load_config(learnable_config, ["train.epochs=5"])
    with pytest.raises(DivergenceError) as exc:
        fit(prepare(cfg), sink)
    assert exc.value.exit_code == 5
    assert "epoch 3" in exc.value.message
    assert len(sink.rows) == 2
    assert sink.saved and sink.saved[-1].epoch in (1, 2)
    assert [st["epoch"] for st in sink.states] == [1, 2]  # nothing after the divergence


def test_device_errors() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="CUDA is not available"):
            resolve_device("cuda:0")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_cuda_training(learnable_config: Path, precision: str) -> None:
    cfg = load_config(learnable_config, ["device=cuda", f"train.precision={precision}"])
    s = prepare(cfg)
    assert s.x_train.is_cuda
    hist = fit(s).history
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]


@pytest.mark.parametrize(
    "sets",
    [[], ["model.dropout=0.2"], ["train.optimizer=sgd", "train.lr=0.1"]],
    ids=["fast-step", "dropout-autograd", "sgd"],
)
def test_state_dict_continues_exactly_like_an_uninterrupted_run(
    learnable_config: Path, sets: list[str]
) -> None:
    # 3 epochs straight, against 2 epochs + state_dict → a fresh Trainer → 1 more epoch:
    # the loop's whole state is in the dict, so the weights and history agree bit for bit
    cfg = load_config(learnable_config, [*sets, "train.epochs=3"])
    straight = Trainer(prepare(cfg))
    straight.fit()
    first = prepare(load_config(learnable_config, [*sets, "train.epochs=2"]))
    head = Trainer(first)
    head.fit()
    state = head.state_dict()
    rest = Trainer(prepare(cfg))
    rest.load_state_dict(state)
    assert rest.epoch == 2 and rest.global_step == head.global_step
    result = rest.fit()
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    for a, b in zip(straight.history, rest.history, strict=True):
        assert a["train_loss"] == b["train_loss"] and a.get("val_loss") == b.get("val_loss")
    for p, q in zip(straight.setup.model.parameters(), rest.setup.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert rest.best_epoch == straight.best_epoch and rest.best_value == straight.best_value


def test_state_dict_is_a_copy(learnable_config: Path) -> None:
    t = Trainer(prepare(load_config(learnable_config, ["train.epochs=1"])))
    t.fit()
    state = t.state_dict()
    before = {k: v.clone() for k, v in state["model"].items()}
    t.setup.cfg = t.setup.cfg.model_copy(
        update={"train": t.setup.cfg.train.model_copy(update={"epochs": 2})}
    )
    t.fit()
    assert all(torch.equal(before[k], v) for k, v in state["model"].items())
    assert len(state["history"]) == 1


def test_a_non_finite_validation_loss_is_a_divergence(
    learnable_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sigmoidnet.engine import trainer as trainer_mod

    real = trainer_mod.predict_logits
    calls = {"n": 0}

    def overflowing(*args: Any, **kwargs: Any) -> torch.Tensor:
        calls["n"] += 1
        out = real(*args, **kwargs)
        return torch.full_like(out, float("nan")) if calls["n"] == 2 else out

    monkeypatch.setattr(trainer_mod, "predict_logits", overflowing)
    sink = ListSink()
    with pytest.raises(DivergenceError) as exc:
        fit(prepare(load_config(learnable_config, ["train.epochs=4"])), sink)
    assert exc.value.exit_code == 5
    assert "epoch 2" in exc.value.message and "validation loss is nan" in exc.value.message
    assert "kept the model of epoch 1" in exc.value.message
    assert [a.epoch for a in sink.saved] == [1]


# ---------------------------------------------------------------------------------------------
# Early stopping and the model kept


def scripted_metric(monkeypatch: pytest.MonkeyPatch, key: str, values: list[float]) -> None:
    """The validation `key` of epoch k is `values[k - 1]` (the other metrics are real)."""
    from sigmoidnet.engine import trainer as trainer_mod

    real = trainer_mod.epoch_metrics
    it = iter(values)

    def fake(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float | None]:
        out = real(logits, targets)
        out[key] = next(it)
        return out

    monkeypatch.setattr(trainer_mod, "epoch_metrics", fake)


def test_early_stopping_on_a_rising_metric_keeps_its_best_epoch(
    learnable_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # patience counts epochs without a gain of more than min_delta; the model kept is the
    # best epoch by the metric, even one that gained less than min_delta (epoch 4)
    scripted_metric(monkeypatch, "val_roc_auc", [0.5, 0.7, 0.69, 0.703, 0.9, 0.9])
    sets = ["train.epochs=10", "train.early_stopping={metric: val_roc_auc, patience: 2, "
            "min_delta: 0.005}"]  # fmt: skip
    sink = ListSink()
    result = fit(prepare(load_config(learnable_config, sets)), sink)
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4]
    assert [a.epoch for a in sink.saved] == [1, 2, 4]
    assert result.best_epoch == 4 and result.best["val_roc_auc"] == 0.703
    assert result.stop_reason == (
        "early stopping: val_roc_auc did not improve by 0.005 for 2 epochs (best 0.703 at epoch 4)"
    )
    assert len(sink.states) == 4 and sink.states[-1]["early_stopping"]["stopped"]


def test_early_stopping_on_the_loss(
    learnable_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted_metric(monkeypatch, "val_loss", [1.0, 0.9, 0.95, 0.92, 0.91, 0.1, 0.1])
    sets = ["train.epochs=10", "train.early_stopping={patience: 3}"]
    sink = ListSink()
    result = fit(prepare(load_config(learnable_config, sets)), sink)
    assert len(result.history) == 5
    assert [a.epoch for a in sink.saved] == [1, 2] and result.best_epoch == 2
    assert result.stop_reason == (
        "early stopping: val_loss did not improve by 0.0 for 3 epochs (best 0.9 at epoch 2)"
    )


def test_without_early_stopping_the_run_reaches_its_epochs(learnable_config: Path) -> None:
    result = fit(prepare(load_config(learnable_config, ["train.epochs=2"])))
    assert result.stop_reason == "reached train.epochs (2)"


def test_an_na_metric_does_not_improve_but_a_model_is_kept(
    learnable_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted_metric(monkeypatch, "val_roc_auc", [None, 0.6, None, 0.5])  # type: ignore[list-item]
    sets = ["train.epochs=4", "train.early_stopping={metric: val_roc_auc, patience: 5}"]
    sink = ListSink()
    result = fit(prepare(load_config(learnable_config, sets)), sink)
    assert [a.epoch for a in sink.saved] == [1, 2]
    # epochs 3 (n/a) and 4 (lower) count against the patience
    assert result.best_epoch == 2 and sink.states[-1]["early_stopping"]["bad_epochs"] == 2


# ---------------------------------------------------------------------------------------------
# The state: plain data only, and a run continued from it is the run that never stopped

TIMING = {"seconds", "rows_per_s"}
PLAIN = (int, float, str, bool, type(None))


def assert_plain(value: Any, where: str = "state") -> None:
    """Tensors, numpy arrays, numbers, strings, booleans, None, and lists/tuples/dicts (str
    or int keys) of those: nothing else."""
    if isinstance(value, torch.Tensor | np.ndarray) or type(value) in PLAIN:
        return
    if type(value) in (list, tuple):
        for i, v in enumerate(value):
            assert_plain(v, f"{where}[{i}]")
        return
    assert type(value) is dict, f"{where}: a {type(value).__qualname__}"
    for k, v in value.items():
        assert type(k) in (str, int), f"{where}: key {k!r}"
        assert_plain(v, f"{where}.{k}")


def assert_same(a: Any, b: Any, where: str = "state") -> None:
    """Equal bit for bit: tensors by `torch.equal` (and dtype), numbers exactly (nan = nan);
    the timing fields of rows aside."""
    assert type(a) is type(b), f"{where}: {type(a).__qualname__} vs {type(b).__qualname__}"
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), where
    elif isinstance(a, dict):
        assert set(a) - TIMING == set(b) - TIMING, f"{where}: {set(a) ^ set(b)}"
        for k in set(a) - TIMING:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


class Stop(Exception):
    """Raised by `StopSink` to interrupt a run inside `save_state`."""


class StopSink(ListSink):
    """Interrupts the run (raising `Stop`) at the first state `when(state)` accepts, after
    keeping a copy of it."""

    def __init__(self, when: Callable[[dict[str, Any]], bool]) -> None:
        super().__init__()
        self.when = when
        self.kept: dict[str, Any] | None = None

    def save_state(self, state: dict[str, Any]) -> None:
        super().save_state(state)
        if self.when(state):
            self.kept = copy.deepcopy(state)
            raise Stop


def mid_epoch(epoch: int) -> Callable[[dict[str, Any]], bool]:
    """A state inside an epoch after `epoch` epochs were done."""
    return lambda st: st["epoch"] >= epoch and st["step_in_epoch"] > 0


def epoch_end(epoch: int) -> Callable[[dict[str, Any]], bool]:
    return lambda st: st["epoch"] == epoch and st["step_in_epoch"] == 0


def interrupted(cfg: Config, *stops: Callable[[dict[str, Any]], bool]) -> Trainer:
    """The run of `cfg`, interrupted at each of `stops` in turn and continued each time by a
    fresh Setup and Trainer from the kept state, to its end."""
    trainer = Trainer(prepare(cfg))
    for when in stops:
        sink = StopSink(when)
        with pytest.raises(Stop):
            trainer.fit(sink)
        assert sink.kept is not None
        trainer = Trainer(prepare(cfg))
        trainer.load_state_dict(sink.kept)
    trainer.fit(ListSink())
    return trainer


def assert_same_run(a: Trainer, b: Trainer) -> None:
    assert_same(a.state_dict(), b.state_dict())
    for p, q in zip(a.setup.model.parameters(), b.setup.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert len(a.history) == len(b.history)
    for ra, rb in zip(a.history, b.history, strict=True):
        assert {k: v for k, v in ra.items() if k not in TIMING} == {
            k: v for k, v in rb.items() if k not in TIMING
        }


RESUME_CASES = {
    "fast-step": [],
    "dropout-autograd": ["model.dropout=0.2"],
    "cosine-warmup": ["train.lr_schedule=cosine", "train.warmup_epochs=1"],
    "step": ["train.lr_schedule={name: step, step_size: 2, gamma: 0.5}"],
    "exponential": ["train.lr_schedule={name: exponential, gamma: 0.7}"],
    "plateau": ["train.lr_schedule={name: plateau, patience: 0, factor: 0.5}"],
    "plateau-warmup-train-loss": [
        "train.lr_schedule={name: plateau, metric: train_loss, patience: 0, threshold: 0.5}",
        "train.warmup_epochs=2",
    ],
    "onecycle": ["train.lr_schedule={name: onecycle, cycle_momentum: true}"],
    "early-stopping": ["train.early_stopping={metric: val_loss, patience: 3, min_delta: 0.05}"],
    "clip-sgd-pos-weight": [
        "train.optimizer=sgd", "train.momentum=0.9", "train.lr=0.1", "train.grad_clip=0.05",
        "train.pos_weight=auto",
    ],
    "clip-adamw-dropout": [
        "train.optimizer=adamw", "train.weight_decay=0.1", "train.grad_clip=0.1",
        "model.dropout=0.1",
    ],
}  # fmt: skip


@pytest.mark.parametrize("where", ["mid-epoch", "epoch-end"])
@pytest.mark.parametrize("sets", list(RESUME_CASES.values()), ids=list(RESUME_CASES))
def test_a_resumed_run_is_the_uninterrupted_run_bit_for_bit(
    learnable_config: Path, sets: list[str], where: str
) -> None:
    # 320 training rows in batches of 32: 10 steps an epoch, a mid-epoch state every 7
    cfg = load_config(learnable_config, [*sets, "train.epochs=6", "train.checkpoint_every=7"])
    straight = Trainer(prepare(cfg))
    straight.fit(ListSink())
    stop = mid_epoch(2) if where == "mid-epoch" else epoch_end(2)
    assert_same_run(straight, interrupted(cfg, stop))


def test_a_run_resumed_several_times_is_the_uninterrupted_run(learnable_config: Path) -> None:
    sets = ["model.dropout=0.2", "train.lr_schedule=onecycle", "train.checkpoint_every=3"]
    cfg = load_config(learnable_config, [*sets, "train.epochs=5"])
    straight = Trainer(prepare(cfg))
    straight.fit()
    resumed = interrupted(cfg, mid_epoch(0), mid_epoch(1), epoch_end(3), mid_epoch(3))
    assert_same_run(straight, resumed)


def test_early_stopping_interrupted_in_its_patience_window(learnable_config: Path) -> None:
    # every epoch after the first misses min_delta: the run stops at epoch 4; interrupted
    # with 1 bad epoch counted, and again mid-epoch with 2, it stops at the same epoch
    sets = ["train.early_stopping={patience: 3, min_delta: 10.0}", "train.checkpoint_every=4"]
    cfg = load_config(learnable_config, [*sets, "train.epochs=10"])
    straight = Trainer(prepare(cfg))
    result = straight.fit()
    assert straight.epoch == 4 and result.best_epoch is not None
    assert result.stop_reason.startswith("early stopping: val_loss did not improve by 10.0")
    resumed = interrupted(cfg, epoch_end(2), mid_epoch(3))
    assert_same_run(straight, resumed)
    assert resumed.stopped_early == result.stop_reason


def test_a_stopped_run_loaded_again_trains_no_more(learnable_config: Path) -> None:
    sets = ["train.early_stopping={patience: 1, min_delta: 10.0}", "train.epochs=10"]
    cfg = load_config(learnable_config, sets)
    first = Trainer(prepare(cfg))
    first.fit()
    assert first.epoch == 2
    again = Trainer(prepare(cfg))
    again.load_state_dict(first.state_dict())
    result = again.fit(ListSink())
    assert again.epoch == 2 and result.stop_reason == first.fit().stop_reason
    # extended (train.epochs raised), the patience starts again: one more bad epoch
    longer = Trainer(prepare(load_config(learnable_config, [*sets[:1], "train.epochs=12"])))
    longer.load_state_dict(first.state_dict())
    assert longer.es_bad_epochs == 0 and longer.stopped_early is None
    result = longer.fit()
    assert longer.epoch == 3 and result.stop_reason.startswith("early stopping")


@pytest.mark.parametrize(
    "sets",
    [
        [],
        ["train.lr_schedule={name: step, step_size: 2}"],
        ["train.lr_schedule={name: exponential, gamma: 0.7}"],
        ["train.lr_schedule={name: plateau, patience: 0, factor: 0.5}"],
    ],
    ids=["constant", "step", "exponential", "plateau"],
)
def test_extending_a_finished_run_continues_it(learnable_config: Path, sets: list[str]) -> None:
    # schedules that do not depend on train.epochs: 3 epochs extended to 5 are 5 epochs
    five = Trainer(prepare(load_config(learnable_config, [*sets, "train.epochs=5"])))
    five.fit()
    three = Trainer(prepare(load_config(learnable_config, [*sets, "train.epochs=3"])))
    three.fit()
    extended = Trainer(prepare(load_config(learnable_config, [*sets, "train.epochs=5"])))
    extended.load_state_dict(three.state_dict())
    assert extended.fit().stop_reason == "reached train.epochs (5)"
    assert_same_run(five, extended)


def test_extending_a_cosine_run_retargets_the_annealing(learnable_config: Path) -> None:
    sets = ["train.lr_schedule=cosine", "train.warmup_epochs=1"]
    three = Trainer(prepare(load_config(learnable_config, [*sets, "train.epochs=4"])))
    three.fit()
    extended = Trainer(prepare(load_config(learnable_config, [*sets, "train.epochs=8"])))
    extended.load_state_dict(three.state_dict())
    extended.fit()
    assert extended.schedule.cosine is not None and extended.schedule.cosine.T_max == 7
    lrs = [r["lr"] for r in extended.history]
    assert lrs[0] < lrs[1] and all(a >= b for a, b in itertools.pairwise(lrs[1:]))


def test_a_onecycle_run_cannot_be_extended(learnable_config: Path) -> None:
    sets = ["train.lr_schedule=onecycle"]
    short = Trainer(prepare(load_config(learnable_config, [*sets, "train.epochs=2"])))
    short.fit()
    longer = Trainer(prepare(load_config(learnable_config, [*sets, "train.epochs=3"])))
    with pytest.raises(ConfigError) as exc:
        longer.load_state_dict(short.state_dict())
    assert exc.value.where == "train.epochs" and exc.value.exit_code == 2


def test_a_lower_lr_after_a_divergence_rescales_the_schedule(learnable_config: Path) -> None:
    sets = ["train.lr_schedule={name: step, step_size: 1, gamma: 0.5}", "train.epochs=3"]
    first = Trainer(prepare(load_config(learnable_config, [*sets, "train.lr=0.02"])))
    first.fit()
    assert first.schedule.lr == pytest.approx(0.02 * 0.5**3)
    lower = Trainer(prepare(load_config(learnable_config, [*sets, "train.lr=0.01"])))
    lower.load_state_dict(first.state_dict())
    assert lower.schedule.lr == pytest.approx(0.01 * 0.5**3)
    assert lower.setup.optimizer.param_groups[0]["initial_lr"] == pytest.approx(0.01)


@pytest.mark.parametrize(
    "sets",
    [
        [],
        ["model.dropout=0.2", "train.lr_schedule=cosine", "train.warmup_epochs=2"],
        ["train.lr_schedule=plateau", "train.early_stopping={metric: val_f1}"],
        ["train.lr_schedule=onecycle", "train.grad_clip=1.0"],
    ],
    ids=["default", "cosine-dropout", "plateau-early-stopping", "onecycle-clip"],
)
def test_states_hold_plain_data_only(learnable_config: Path, sets: list[str]) -> None:
    cfg = load_config(learnable_config, [*sets, "train.epochs=3", "train.checkpoint_every=4"])
    sink = ListSink()
    fit(prepare(cfg), sink)
    assert [st["step_in_epoch"] for st in sink.states[:3]] == [4, 8, 0]  # mid, mid, end
    for st in sink.states:
        assert_plain(st)
        assert set(st) == {
            "epoch", "global_step", "step_in_epoch", "epoch_losses", "train_epochs",
            "train_lr", "best_epoch", "best_value", "best", "monitor", "early_stopping",
            "history", "data_order", "torch_rng", "cuda_rng", "numpy_rng", "python_rng",
            "scaler", "schedule", "model", "optimizer",
        }  # fmt: skip
        assert st["epoch_losses"].shape == (st["step_in_epoch"],)
    assert sink.states[0]["global_step"] == 4 and sink.states[2]["global_step"] == 10


def test_a_mid_epoch_state_is_never_saved_after_a_divergence(learnable_config: Path) -> None:
    cfg = load_config(learnable_config, ["train.epochs=3", "train.checkpoint_every=4"])
    trainer = Trainer(prepare(cfg))
    real = trainer.step
    calls = {"n": 0}

    def flaky(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        loss = real(xb, yb)
        return torch.tensor(float("nan")) if calls["n"] == 15 else loss

    trainer.step = flaky
    sink = ListSink()
    with pytest.raises(DivergenceError) as exc:
        trainer.fit(sink)
    assert exc.value.exit_code == 5 and "epoch 2" in exc.value.message
    # states at steps 4, 8, 10 (epoch 1's end) and 12; the check at step 16 sees the nan
    assert [st["global_step"] for st in sink.states] == [4, 8, 10, 12]
    assert "by step 16" in exc.value.message


@pytest.mark.parametrize(
    "sets",
    [[], ["model.dropout=0.3", "train.lr_schedule=onecycle", "train.grad_clip=0.5"]],
    ids=["default", "dropout-onecycle-clip"],
)
def test_same_config_and_seed_give_the_same_weights(
    learnable_config: Path, sets: list[str]
) -> None:
    cfg = load_config(learnable_config, [*sets, "train.epochs=3"])
    # one after the other, as two processes would: `prepare` seeds the global generators
    # that dropout draws from
    a = Trainer(prepare(cfg))
    a.fit()
    b = Trainer(prepare(cfg))
    b.fit()
    assert_same_run(a, b)
