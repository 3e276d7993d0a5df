"""sigmoidnet.engine: setup and the Trainer (loop, state, divergence, devices)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from sigmoidnet.artifact import Artifact
from sigmoidnet.config import load_config
from sigmoidnet.engine import (
    Trainer,
    fit,
    make_artifact,
    pos_weight_tensor,
    prepare,
    resolve_device,
)
from sigmoidnet.errors import DivergenceError, UsageError


class ListSink:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.saved: list[Artifact] = []

    def log_epoch(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def save_model(self, artifact: Artifact) -> None:
        self.saved.append(artifact)


def test_loss_falls_on_a_learnable_problem(learnable_config: Path) -> None:
    cfg = load_config(learnable_config, ["train.epochs=15"])
    sink = ListSink()
    result = fit(prepare(cfg), sink)
    losses = [r["train_loss"] for r in result.history]
    assert losses[-1] < 0.6 * losses[0]
    assert result.history[-1]["val_accuracy"] > 0.85
    assert sink.rows == result.history
    assert set(result.history[0]) == {
        "epoch", "train_loss", "val_loss", "val_accuracy", "val_f1", "val_roc_auc",
        "seconds", "rows_per_s",
    }  # fmt: skip
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
