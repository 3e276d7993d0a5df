"""sigmoidnet.engine.distributed and the DDP steps: one step of a global batch split across
2 and 4 gloo processes gives the gradients and the updated weights of one process stepping
over the same rows (to float32 reduction error); the validation metrics of a sharded run are
those of one process for the same weights, exactly; the shards cover every row once."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp

from sigmoidnet.config import load_config
from sigmoidnet.engine.distributed import Shard, World, even_counts, gather_rows
from sigmoidnet.engine.precision import Precision
from sigmoidnet.engine.steps import (
    AutogradStep,
    ShardedAutogradStep,
    ShardedManualStep,
    choose_sharded_step,
)
from sigmoidnet.model import MLP

pytestmark = pytest.mark.skipif(not tdist.is_available(), reason="torch without distributed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(fn: Any, world: int, tmp_path: Path, *args: Any) -> list[dict[str, Any]]:
    port = _free_port()
    mp.spawn(fn, args=(world, port, str(tmp_path), *args), nprocs=world, join=True)
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(world)]


def _join(rank: int, world: int, port: int) -> World:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    tdist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    return World(rank=rank, size=world, backend="gloo")


# -- the shards ------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 7, 10, 64, 99, 1000])
@pytest.mark.parametrize("batch", [4, 10, 32])
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_shards_cover_every_row_once_and_every_step_is_one_global_batch(
    rows: int, batch: int, size: int
) -> None:
    shards = [Shard.of(rows, batch, World(rank=r, size=size)) for r in range(size)]
    assert sum(s.count for s in shards) == rows
    assert [s.start for s in shards] == [sum(t.count for t in shards[:r]) for r in range(size)]
    steps = shards[0].steps
    assert steps == -(-rows // batch) and all(s.steps == steps for s in shards)
    for i in range(steps):
        shares = [s.step_rows(i) for s in shards]
        assert len({g for _, g in shares}) == 1
        assert sum(b for b, _ in shares) == shares[0][1] == min(batch, rows - i * batch)
    for s in shards:  # a rank's steps take exactly its shard
        assert sum(s.step_rows(i)[0] for i in range(steps)) == s.count


def test_a_global_batch_smaller_than_the_world_is_refused() -> None:
    from sigmoidnet.errors import UsageError

    with pytest.raises(UsageError, match=r"train\.batch_size: 2 is the global batch"):
        Shard.of(100, 2, World(rank=0, size=4))


def test_even_counts() -> None:
    assert even_counts(10, 4) == [3, 3, 2, 2]
    assert even_counts(3, 4) == [1, 1, 1, 0]


# -- one step: DDP over N processes against one process --------------------------------------

CASES: list[dict[str, Any]] = [
    # hand-derived step, its own flat all-reduce; uneven shares (10 rows on 4: 3,3,2,2)
    {"kind": "manual", "rows": 10, "act": "relu", "clip": None, "pos_weight": None},
    {"kind": "manual", "rows": 7, "act": "tanh", "clip": 0.05, "pos_weight": [2.0, 0.5]},
    # autograd under DistributedDataParallel, an empty share on 4 ranks (3 rows: 1,1,1,0)
    {"kind": "autograd", "rows": 3, "act": "gelu", "clip": None, "pos_weight": None},
    {"kind": "autograd", "rows": 10, "act": "relu", "clip": 0.05, "pos_weight": [3.0, 1.0]},
]


def _model_and_opt(case: dict[str, Any]) -> tuple[MLP, torch.optim.Optimizer]:
    torch.manual_seed(0)
    mlp = MLP(5, [8, 6], 2, case["act"])
    return mlp, torch.optim.Adam(mlp.parameters(), lr=0.01, fused=True)


def _loss(case: dict[str, Any]) -> torch.nn.BCEWithLogitsLoss:
    pw = case["pos_weight"]
    return torch.nn.BCEWithLogitsLoss(pos_weight=None if pw is None else torch.tensor(pw))


def _batch(rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(rows, 5, generator=g)
    y = (torch.rand(rows, 2, generator=g) > 0.4).float()
    return x, y


def _flat(tensors: Any) -> list[float]:
    return torch.cat([t.detach().reshape(-1) for t in tensors]).tolist()


def _step_worker(rank: int, world: int, port: int, out: str) -> None:
    w = _join(rank, world, port)
    results = []
    for case in CASES:
        x, y = _batch(case["rows"])
        shard = Shard.of(case["rows"], 16, w)  # one step: the shard is this rank's share
        xb, yb = (
            x[shard.start : shard.start + shard.count],
            y[shard.start : shard.start + shard.count],
        )
        mlp, opt = _model_and_opt(case)
        step = choose_sharded_step(
            mlp,
            _loss(case),
            opt,
            Precision("fp32", torch.device("cpu")),
            activation=case["act"],
            dropout=0.0,
            precision_name="fp32",
            world_size=world,
            device=torch.device("cpu"),
            allow_manual=case["kind"] == "manual",
            grad_clip=case["clip"],
        )
        kind = "manual" if isinstance(step, ShardedManualStep) else "autograd"
        assert isinstance(step, ShardedManualStep | ShardedAutogradStep)
        loss_sum = step(xb, yb, case["rows"])
        total = loss_sum.clone()
        tdist.all_reduce(total)
        results.append(
            {
                "kind": kind,
                "grads": _flat(p.grad for p in mlp.parameters()),
                "weights": _flat(mlp.parameters()),
                "loss": float(total) / (case["rows"] * 2),
            }
        )
    Path(out, f"rank{rank}.json").write_text(json.dumps(results))
    tdist.barrier()  # no rank tears down while another still talks to it
    tdist.destroy_process_group()


def _reference(case: dict[str, Any]) -> dict[str, Any]:
    """One process, autograd, `optimizer.step()`: the plain reference."""
    x, y = _batch(case["rows"])
    mlp, opt = _model_and_opt(case)
    step = AutogradStep(mlp, _loss(case), opt, Precision("fp32", torch.device("cpu")), case["clip"])
    loss = step(x, y)
    return {
        "grads": _flat(p.grad for p in mlp.parameters()),
        "weights": _flat(mlp.parameters()),
        "loss": float(loss),
    }


@pytest.mark.parametrize("world", [2, 4])
def test_one_ddp_step_equals_one_process_step_over_the_same_rows(
    world: int, tmp_path: Path
) -> None:
    ranks = _spawn(_step_worker, world, tmp_path)
    for i, case in enumerate(CASES):
        ref = _reference(case)
        for r, got in enumerate(ranks):
            mine = got[i]
            assert mine["kind"] == case["kind"], (case, r)
            g, rg = torch.tensor(mine["grads"]), torch.tensor(ref["grads"])
            assert torch.allclose(g, rg, rtol=1e-5, atol=1e-6), (case, r, (g - rg).abs().max())
            wt, rw = torch.tensor(mine["weights"]), torch.tensor(ref["weights"])
            assert torch.allclose(wt, rw, rtol=1e-5, atol=1e-6), (case, r, (wt - rw).abs().max())
            assert mine["loss"] == pytest.approx(ref["loss"], rel=1e-6)
        # every rank holds the same weights, bit for bit
        assert all(got[i]["weights"] == ranks[0][i]["weights"] for got in ranks)


def test_gather_rows_puts_uneven_blocks_back_in_order(tmp_path: Path) -> None:
    ranks = _spawn(_gather_worker, 3, tmp_path)
    assert all(r["rows"] == [[float(i), float(-i)] for i in range(7)] for r in ranks)


def _gather_worker(rank: int, world: int, port: int, out: str) -> None:
    _join(rank, world, port)
    counts = [3, 0, 4]  # a rank without rows included
    start = sum(counts[:rank])
    local = torch.tensor([[float(i), float(-i)] for i in range(start, start + counts[rank])])
    local = local.reshape(counts[rank], 2)
    rows = gather_rows(local, counts).tolist()
    Path(out, f"rank{rank}.json").write_text(json.dumps({"rows": rows}))
    tdist.barrier()  # no rank tears down while another still talks to it
    tdist.destroy_process_group()


def _attempt_worker(rank: int, world: int, port: int, out: str, attempt: int) -> None:
    """A worker of torchrun's attempt `attempt`, the agent (the test) hosting the store."""
    import time

    from sigmoidnet.engine.distributed import close_world, init_world

    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port), TORCHELASTIC_USE_AGENT_STORE="True",
        TORCHELASTIC_RESTART_COUNT=str(attempt),
    )  # fmt: skip
    torch.set_num_threads(1)
    if attempt and rank == attempt % 2:
        time.sleep(1.5)  # one restarted rank publishes its address late
    w = init_world("cpu")
    total = torch.tensor([float(rank + 1)])
    tdist.all_reduce(total)
    Path(out, f"rank{rank}.json").write_text(json.dumps({"sum": total.item(), "rank": w.rank}))
    if attempt == 0:
        os._exit(0)  # killed: no teardown, its keys stay in the agent's store
    tdist.barrier()
    close_world(w)


def test_a_restarted_attempt_does_not_meet_the_addresses_of_the_attempt_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torchrun's agent keeps one store across `--max-restarts` attempts
    (pytorch/pytorch#135712): a restarted rank must not connect to the address a killed
    rank published the attempt before. Which rank of a pair connects depends on the ports
    it drew, so each restart makes another rank the late one."""
    monkeypatch.setenv("SIGMOIDNET_COLLECTIVE_TIMEOUT", "20")  # a failure, not a hang
    port = _free_port()
    agent = tdist.TCPStore("127.0.0.1", port, 2, is_master=True, wait_for_workers=False)
    for attempt in range(5):
        mp.spawn(_attempt_worker, args=(2, port, str(tmp_path), attempt), nprocs=2, join=True)
        ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
        assert ranks == [{"sum": 3.0, "rank": 0}, {"sum": 3.0, "rank": 1}]
        for r in range(2):
            (tmp_path / f"rank{r}.json").unlink()
    assert agent.num_keys() > 0  # the attempts met in the agent's store


# -- the Trainer on shards ---------------------------------------------------------------------


def _write_config(tmp: Path) -> None:
    """Written once, by the test (the ranks only read it)."""
    Path(tmp, "c.yaml").write_text(
        "seed: 3\ndata: {source: random, n_samples: 203, n_features: 6, n_labels: 2, "
        "val_fraction: 0.3}\nmodel: {hidden_sizes: [8]}\ntrain: {epochs: 2, batch_size: 16}\n"
    )


def _config(tmp: str) -> Any:
    return load_config(Path(tmp, "c.yaml"))


def _trainer_worker(rank: int, world: int, port: int, out: str) -> None:
    import sigmoidnet.model
    from sigmoidnet.engine import Trainer, prepare
    from sigmoidnet.evaluation import epoch_metrics

    w = _join(rank, world, port)
    sigmoidnet.model.EVAL_CHUNK = 16  # scoring chunks of 16 rows: 61 val rows → 32 + 29
    cfg = _config(out)
    setup = prepare(cfg, world=w)
    trainer = Trainer(setup)
    assert setup.y_val is not None and setup.val_counts is not None
    result = trainer.fit()
    logits = trainer.validation_logits(setup.model)
    metrics = epoch_metrics(logits, setup.y_val)
    state = trainer.state_dict()
    Path(out, f"rank{rank}.json").write_text(
        json.dumps(
            {
                "metrics": metrics,
                "weights": _flat(setup.model.parameters()),
                "train_rows": int(setup.x_train.shape[0]),
                "val_rows": int(setup.x_val.shape[0]) if setup.x_val is not None else 0,
                "history": [r["train_loss"] for r in result.history],
                "state_ranks": len(state["ranks"]),
                "world_size": state["world_size"],
            }
        )
    )
    tdist.barrier()  # no rank tears down while another still talks to it
    tdist.destroy_process_group()


def test_sharded_training_keeps_ranks_identical_and_validation_equals_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sigmoidnet.engine import prepare
    from sigmoidnet.engine.trainer import Trainer
    from sigmoidnet.evaluation import epoch_metrics
    from sigmoidnet.model import predict_logits

    _write_config(tmp_path)
    ranks = _spawn(_trainer_worker, 2, tmp_path)
    assert ranks[0]["weights"] == ranks[1]["weights"]
    assert ranks[0]["metrics"] == ranks[1]["metrics"]
    assert ranks[0]["history"] == ranks[1]["history"]
    assert ranks[0]["state_ranks"] == 2 and ranks[0]["world_size"] == 2
    # shards: 203 rows, 0.3 held out → 142 train (8 full steps of 16 + 14) / 61 val
    assert sum(r["train_rows"] for r in ranks) == 142
    assert [r["val_rows"] for r in ranks] == [32, 29]  # whole chunks of 16 rows
    # the same weights in one process: the same validation metrics, exactly
    monkeypatch.setattr("sigmoidnet.model.EVAL_CHUNK", 16)
    setup = prepare(_config(str(tmp_path)))
    Trainer(setup)
    with torch.no_grad():
        offset = 0
        for p in setup.model.parameters():
            n = p.numel()
            p.copy_(torch.tensor(ranks[0]["weights"][offset : offset + n]).view_as(p))
            offset += n
    assert setup.x_val is not None and setup.y_val is not None
    logits = predict_logits(setup.model, setup.x_val, setup.device)
    assert epoch_metrics(logits, setup.y_val) == ranks[0]["metrics"]


# -- a numeric Parquet file read in shards -----------------------------------------------------


def _parquet(folder: Path, rows: int, kind: str = "parquet") -> Path:
    """A numeric table: Parquet in row groups of 7,000 rows, with missing values and a
    boolean column; or a plain CSV of numbers (the C fast path's: nothing missing)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(rows)
    x = rng.normal(size=(rows, 4)).astype(np.float32) * [1, 10, 100, 0.1] + [0, 5, -3, 1000]
    if kind == "parquet":
        x[rng.random((rows, 4)) < 0.05] = np.nan  # missing values: fills and indicators
        x[:, 3] = np.where(np.isnan(x[:, 3]), 7.0, x[:, 3])  # one column without any
    y = (rng.random((rows, 2)) < [0.3, 0.6]).astype(np.int64)
    table = pa.table(
        {
            "id": np.arange(rows),  # an index column: left out, judged on the whole column
            **{f"f{j}": x[:, j] for j in range(4)},
            "flag": (rng.random(rows) < 0.5) if kind == "parquet" else rng.integers(0, 9, rows),
            "a": y[:, 0],
            "b": y[:, 1],
        }
    )
    path = folder / f"d{rows}.{kind.split('-')[0]}"
    if kind == "parquet":
        pq.write_table(table, path, row_group_size=7_000)
    else:
        pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))
    if kind == "csv-missing":  # an empty cell late in the file: pyarrow's, for every rank
        lines = path.read_text().splitlines()
        cells = lines[-5].split(",")
        cells[2] = ""
        lines[-5] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n")
    cfg = folder / f"c{rows}.yaml"
    cfg.write_text(
        f"seed: 4\ndata: {{source: {path.suffix[1:]}, path: {path}, labels: [a, b], "
        "val_fraction: 0.25}\n"
        "model: {hidden_sizes: [8]}\ntrain: {epochs: 1, batch_size: 100, pos_weight: auto}\n"
    )
    return cfg


def _summary(setup: Any) -> dict[str, Any]:
    pre = setup.data.preprocessor
    return {
        "mean": pre.mean_.tolist(),
        "std": pre.std_.tolist(),
        "fills": [c.fill for c in pre.columns],
        "indicators": [c.indicator for c in pre.columns],
        "features": setup.data.feature_names,
        "heldout": None if setup.data.heldout is None else setup.data.heldout.to_dict(),
        "columns": [c.to_dict() for c in setup.data.columns],
        "pos_weight": setup.loss_fn.pos_weight.tolist(),
        "x_train": setup.x_train.tolist(),
        "y_train": setup.y_train.tolist(),
        "x_val": setup.x_val.tolist(),
        "y_val": setup.y_val.tolist(),
        "description": setup.data.description,
    }


def _sharded_worker(rank: int, world: int, port: int, out: str, cfg: str) -> None:
    from sigmoidnet.engine import prepare

    w = _join(rank, world, port)
    setup = prepare(load_config(Path(cfg)), world=w)
    Path(out, f"rank{rank}.json").write_text(json.dumps(_summary(setup)))
    tdist.barrier()  # no rank tears down while another still talks to it
    tdist.destroy_process_group()


@pytest.mark.parametrize(
    ("rows", "world", "kind"),
    [
        (20_000, 2, "parquet"),
        pytest.param(150_000, 3, "parquet", marks=pytest.mark.slow),
        (90_000, 2, "csv"),
        pytest.param(9_000, 2, "csv-missing", marks=pytest.mark.slow),
    ],
)
def test_a_numeric_table_read_in_shards_gives_one_process_preprocessing_bitwise(
    tmp_path: Path, rows: int, world: int, kind: str
) -> None:
    """Small (every training row joined for the medians) and large (the bracketed medians,
    several chunks of statistics per rank): every fitted number, the held-out fingerprint,
    the columns table and pos_weight are the one process's, and the ranks' shards are its
    rows."""
    from sigmoidnet.engine import prepare

    cfg = _parquet(tmp_path, rows, kind)
    ranks = _spawn(_sharded_worker, world, tmp_path, str(cfg))
    one = _summary(prepare(load_config(cfg)))
    shards = kind != "csv-missing"  # else the whole file, as one process reads it
    assert ranks[0]["description"].endswith("(read in shards)") == shards
    for key in ("mean", "std", "fills", "indicators", "features", "columns", "pos_weight"):
        assert all(r[key] == one[key] for r in ranks), key
    assert ranks[0]["heldout"] == one["heldout"]
    assert [row for r in ranks for row in r["x_train"]] == one["x_train"]
    assert [row for r in ranks for row in r["y_train"]] == one["y_train"]
    assert [row for r in ranks for row in r["x_val"]] == one["x_val"]
    assert all(r["y_val"] == one["y_val"] for r in ranks)
    assert "id" not in one["features"] and any("flag" in f for f in one["features"])
    assert "(read in shards)" not in one["description"]
