"""sigmoidnet.engine.checkpoint: the resumable state as one safetensors file.

Round trips compare exactly: the same type at every node (bool is not int, tuple is not
list, int keys stay int), floats and tensors bit for bit. A damaged file is one line, exit 4,
and names the previous state when it is intact; a save interrupted at any point leaves a
complete state behind; nothing is ever unpickled."""

from __future__ import annotations

import collections
import json
import math
import os
import pickle
import random
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from sigmoidnet import artifact
from sigmoidnet.config import load_config
from sigmoidnet.engine import Trainer, make_artifact, prepare
from sigmoidnet.engine import checkpoint as ck
from sigmoidnet.engine.checkpoint import (
    PREV_STATE,
    STATE,
    load_state,
    peek_state,
    save_state,
)
from sigmoidnet.errors import CheckpointError
from sigmoidnet.fsutil import OutputError

REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------
# exact comparison


def _bits(t: torch.Tensor) -> bytes:
    return bytes(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())


def assert_same(a: Any, b: Any, where: str = "state") -> None:
    """`b` is `a`: same type at every node, floats and tensors bitwise, keys in order."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} became {type(b).__name__}"
    if isinstance(a, torch.Tensor):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), where
        assert b.device.type == "cpu", where
        assert _bits(a) == _bits(b), where
        if not (a.is_floating_point() or a.is_complex()):
            assert torch.equal(a.cpu(), b), where
    elif isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), where
        assert a.tobytes() == b.tobytes(), where
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), where
    elif isinstance(a, float):
        assert struct.pack(">d", a) == struct.pack(">d", b), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert len(a) == len(b), where
        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True):
            assert_same(ka, kb, f"{where} key {ka!r}")
            assert_same(va, vb, f"{where}[{ka!r}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def round_trip(state: dict[str, Any], folder: Path) -> dict[str, Any]:
    path = folder / STATE
    save_state(path, state)
    return load_state(path)


def test_assert_same_can_fail() -> None:
    for a, b in [
        ({1: 0}, {"1": 0}),
        ((1,), [1]),
        (True, 1),
        (0.0, -0.0),
        (torch.zeros(2), torch.zeros(2, dtype=torch.float64)),
        (torch.tensor([float("nan")]), torch.tensor([-float("nan")])),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
    ]:
        with pytest.raises(AssertionError):
            assert_same(a, b)


# ---------------------------------------------------------------------------------------------
# the Trainer's own state


def _tiny_config(epochs: int, *extra: str) -> Any:
    return load_config(
        None,
        [
            "device=cpu",
            "data.n_samples=48",
            "data.n_features=5",
            "data.n_labels=2",
            "model.hidden_sizes=[8]",
            "model.dropout=0.25",  # the torch RNG matters
            "train.batch_size=16",
            f"train.epochs={epochs}",
            *extra,
        ],
    )


def test_trainer_state_round_trips_bitwise(tmp_path: Path) -> None:
    trainer = Trainer(prepare(_tiny_config(2)))
    trainer.fit()
    state = trainer.state_dict()
    back = round_trip(state, tmp_path)
    assert_same(state, back)
    assert peek_state(tmp_path / STATE) == {"epoch": 2, "global_step": 6}
    # the optimizer's int parameter ids and the RNG tuples survive
    assert all(type(k) is int for k in back["optimizer"]["state"])
    assert type(back["python_rng"]) is tuple and type(back["numpy_rng"]) is tuple
    assert back["best_value"] == math.inf


@pytest.mark.parametrize(
    "extra",
    [
        (),
        ("train.optimizer=adamw", "train.weight_decay=0.01"),
        ("train.optimizer=sgd", "train.lr=0.1"),
    ],
)
def test_resumed_trainer_matches_the_uninterrupted_one(tmp_path: Path, extra: tuple[str]) -> None:
    full = Trainer(prepare(_tiny_config(4, *extra)))
    full.fit()

    first = Trainer(prepare(_tiny_config(2, *extra)))
    first.fit()
    save_state(tmp_path / STATE, first.state_dict())

    resumed = Trainer(prepare(_tiny_config(4, *extra)))
    # disturb every global RNG: the state must restore them
    random.random(), np.random.rand(), torch.rand(3)
    resumed.load_state_dict(load_state(tmp_path / STATE))
    resumed.fit()

    a, b = full.state_dict(), resumed.state_dict()
    assert_same(a["model"], b["model"], "model")
    assert_same(a["optimizer"], b["optimizer"], "optimizer")
    for key in ("epoch", "global_step", "data_order", "torch_rng", "numpy_rng", "python_rng"):
        assert_same(a[key], b[key], key)
    untimed = [
        {k: v for k, v in r.items() if k not in ("seconds", "rows_per_s")} for r in a["history"]
    ]
    assert untimed == [
        {k: v for k, v in r.items() if k not in ("seconds", "rows_per_s")} for r in b["history"]
    ]


def test_resume_with_validation_rows(tmp_path: Path, learnable_config: Path) -> None:
    def trainer(epochs: int) -> Trainer:
        return Trainer(prepare(load_config(learnable_config, [f"train.epochs={epochs}"])))

    full = trainer(3)
    full.fit()
    first = trainer(1)
    first.fit()
    state = first.state_dict()
    assert state["best"]["val_loss"] == state["best_value"]
    resumed = trainer(3)
    resumed.load_state_dict(round_trip(state, tmp_path))
    resumed.fit()
    assert_same(full.state_dict()["model"], resumed.state_dict()["model"])
    assert resumed.best_epoch == full.best_epoch


# ---------------------------------------------------------------------------------------------
# what torch, numpy and random accept back


SCHEDULES = ["step", "cosine", "onecycle", "plateau", "sequential", "lambda"]


def _scheduled(name: str) -> tuple[torch.nn.Module, Any, Any]:
    """A model, its optimizer and a scheduler of kind `name`, the same on every call."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt: Any = (
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        if name in ("step", "plateau")
        else torch.optim.AdamW(model.parameters(), lr=0.01)
    )
    sched: Any
    if name == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    elif name == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    elif name == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=20)
    elif name == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1)
    elif name == "sequential":
        warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=2)
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
        sched = torch.optim.lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[2])
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.9**e)
    return model, opt, sched


def _advance(model: torch.nn.Module, opt: Any, sched: Any, steps: int) -> None:
    for i in range(steps):
        loss = model(torch.full((4, 3), 0.5 + i)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(1.0)  # no improvement: the plateau counter runs
        else:
            sched.step()


@pytest.mark.parametrize("name", SCHEDULES)
def test_optimizer_and_scheduler_states_load_back(tmp_path: Path, name: str) -> None:
    model, opt, sched = _scheduled(name)
    _advance(model, opt, sched, 3)
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
    }
    back = round_trip(state, tmp_path)
    assert_same(state, back)

    model2, opt2, sched2 = _scheduled(name)
    model2.load_state_dict(back["model"])
    opt2.load_state_dict(back["optimizer"])
    sched2.load_state_dict(back["scheduler"])
    _advance(model, opt, sched, 3)
    _advance(model2, opt2, sched2, 3)
    assert_same(model.state_dict(), model2.state_dict())
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in opt2.param_groups]


def test_a_fresh_plateau_scheduler_keeps_its_infinite_best(tmp_path: Path) -> None:
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    state = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max").state_dict()
    assert state["best"] == -math.inf
    back = round_trip({"scheduler": state}, tmp_path)
    assert_same({"scheduler": state}, back)
    torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max").load_state_dict(back["scheduler"])


def test_rng_states_load_back(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(123)
    torch.randperm(10, generator=gen)
    random.seed(5)
    np.random.seed(7)
    torch.manual_seed(9)
    state = {
        "gen": gen.get_state(),
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "numpy_dict": np.random.default_rng(3).bit_generator.state,
        "python": random.getstate(),
    }
    back = round_trip(state, tmp_path)
    assert_same(state, back)
    want = (
        torch.rand(4, generator=gen),
        torch.rand(4),
        np.random.rand(4),
        [random.random() for _ in range(4)],
    )
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    gen2 = torch.Generator()
    gen2.set_state(back["gen"])
    torch.set_rng_state(back["torch"])
    np.random.set_state(back["numpy"])
    random.setstate(back["python"])
    got = (
        torch.rand(4, generator=gen2),
        torch.rand(4),
        np.random.rand(4),
        [random.random() for _ in range(4)],
    )
    assert torch.equal(want[0], got[0]) and torch.equal(want[1], got[1])
    assert np.array_equal(want[2], got[2]) and want[3] == got[3]
    bg = np.random.PCG64()
    bg.state = back["numpy_dict"]
    assert bg.state == state["numpy_dict"]


# ---------------------------------------------------------------------------------------------
# adversarial structures


def _tensor_cases() -> dict[str, torch.Tensor]:
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    return {
        "bf16": torch.tensor([1.5, -0.0, float("inf"), float("nan")], dtype=torch.bfloat16),
        "fp16": torch.tensor([65504.0, -6e-8, float("-inf")], dtype=torch.float16),
        "f64": torch.tensor([5e-324, -0.0, 1 / 3], dtype=torch.float64),
        "bool": torch.tensor([True, False, True]),
        "uint8": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "int64": torch.tensor(2**63 - 1),  # 0-d
        "int8": torch.tensor([-128, 127], dtype=torch.int8),
        "uint32": torch.tensor([0, 2**32 - 1], dtype=torch.uint32),
        "complex": torch.tensor([1 + 2j, -0.0 - 1j], dtype=torch.complex64),
        "empty": torch.empty(0),
        "empty2d": torch.empty(3, 0, dtype=torch.int32),
        "transposed": base.t(),  # non-contiguous
        "view": base[1],  # shares storage with `base`
        "base": base,
        "expanded": torch.tensor([1.0, 2.0]).expand(3, 2),  # stride 0
        "nan_payload": torch.tensor([0x7FC00001], dtype=torch.int32).view(torch.float32),
    }


ADVERSARIAL: dict[str, Any] = {
    "int_keys": {0: "a", 1: {"x": 1}, -5: None, 2**70: 1},
    "mixed_keys": {1: "int", "1": "str", None: "none", 1.5: "f", (1, "a"): "t", (): "()"},
    "bool_keys": {True: "t", False: "f", "True": "s"},
    "tuples": (1, (2, (3,)), [], (), [()]),
    "bools": [True, False, 1, 0, True],
    # past 4300 digits Python refuses str(int) and so json.dumps: 7**6000 has 5071
    "huge_ints": [2**63 - 1, -(2**63), 2**64, 2**1024 + 1, -(3**2000), -(7**6000), 2**32, 0],
    "floats": [
        math.inf,
        -math.inf,
        math.nan,
        -math.nan,
        struct.unpack(">d", bytes.fromhex("7ff8000000000123"))[0],  # a nan payload
        -0.0,
        0.0,
        5e-324,
        1.7976931348623157e308,
        0.1,
        1 / 3,
        1.0,
        1e16,
    ],
    "empty": [{}, [], (), "", {0: {}}],
    "strings": ["", "é", "\x00", "\ud800", '{"$tensor": "t0"}', "$list", "a\nb"],
    "dollar_keys": {"$tensor": "t0", "$list": [1], "$dict": {}},
    "tensors": _tensor_cases(),
    "numpy": [
        np.arange(5, dtype=np.uint32),
        np.array([1.5, np.nan], dtype=">f8"),  # big-endian kept
        np.zeros((2, 0, 3), dtype=np.int16),
        np.array(3.5),  # 0-d array, not a scalar
        np.float64(-0.0),
        np.int64(-7),
        np.bool_(True),
        np.array(["ab", "c"]),  # fixed-size strings
        np.arange(6, dtype=np.float32).reshape(2, 3).T,  # non-contiguous
    ],
    "python_rng": random.Random(1).getstate(),
    "numpy_rng": np.random.RandomState(2).get_state(),
    "ordered": collections.OrderedDict([("b", 1), ("a", 2)]),
    "same_object_twice": [torch.ones(2)] * 2,
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_structures_round_trip(tmp_path: Path, name: str) -> None:
    state = {name: ADVERSARIAL[name], "epoch": 1}
    back = round_trip(state, tmp_path)
    assert_same(state, back)


def test_loaded_tensors_are_independent(tmp_path: Path) -> None:
    base = torch.arange(6.0)
    state = {"a": base[:3], "b": base}
    back = round_trip(state, tmp_path)
    back["a"] += 100  # neither the other tensor nor the file change
    assert torch.equal(back["b"], torch.arange(6.0))
    assert torch.equal(load_state(tmp_path / STATE)["a"], torch.arange(3.0))
    assert torch.equal(base, torch.arange(6.0))


_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**2000), max_value=2**2000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.builds(
        lambda dt, n: torch.arange(n).to(dt),
        st.sampled_from([torch.float32, torch.bfloat16, torch.float16, torch.bool, torch.uint8]),
        st.integers(0, 4),
    ),
    st.builds(lambda n: np.arange(n, dtype=np.uint32), st.integers(0, 4)),
)
_key = st.one_of(st.text(max_size=4), st.integers(-(2**70), 2**70), st.booleans(), st.none())
_tree = st.recursive(
    _leaf,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4),
        st.lists(kids, max_size=4).map(tuple),
        st.dictionaries(_key, kids, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=6), _tree, max_size=5))
def test_random_structures_round_trip(state: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as d:
        back = round_trip(state, Path(d))
    assert_same(state, back)


@pytest.mark.parametrize(
    "value",
    [object(), {1, 2}, 1j, b"bytes", np.array([object()]), {(1, frozenset()): 0}, {frozenset(): 1}],
    ids=["object", "set", "complex", "bytes", "object-array", "frozenset-in-key", "frozenset-key"],
)
def test_unsupported_values_are_a_type_error_and_write_nothing(tmp_path: Path, value: Any) -> None:
    with pytest.raises(TypeError):
        save_state(tmp_path / STATE, {"x": value})
    assert list(tmp_path.iterdir()) == []


def test_a_state_nested_too_deeply_is_refused(tmp_path: Path) -> None:
    deep: Any = 0
    for _ in range(ck.MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(ValueError, match="nested"):
        save_state(tmp_path / STATE, {"x": deep})


# ---------------------------------------------------------------------------------------------
# damaged files


def _saved(folder: Path, epoch: int = 3, step: int = 120) -> Path:
    state = {
        "epoch": epoch,
        "global_step": step,
        "w": torch.arange(40, dtype=torch.float32) * epoch,
        "opt": {"state": {0: {"step": torch.tensor(float(step))}}, "groups": [{"lr": 0.01}]},
        "rng": np.random.RandomState(epoch).get_state(),
    }
    save_state(folder / STATE, state)
    return folder / STATE


def _refused(path: Path, *fragments: str) -> CheckpointError:
    with pytest.raises(CheckpointError) as info:
        load_state(path)
    e = info.value
    assert e.exit_code == 4
    assert e.where == str(path)
    assert "\n" not in e.message and "\r" not in e.message
    for fragment in fragments:
        assert fragment in e.message, e.message
    return e


def test_truncated_at_many_offsets(tmp_path: Path) -> None:
    data = _saved(tmp_path).read_bytes()
    cut = tmp_path / "cut" / STATE
    cut.parent.mkdir()
    header = 8 + int.from_bytes(data[:8], "little")
    offsets = sorted({*range(0, 24), *range(24, header, 97), header - 1, header, header + 1,
                      *range(header, len(data), 37), len(data) - 1})  # fmt: skip
    for n in offsets:
        cut.write_bytes(data[:n])
        e = _refused(cut)
        assert "previous" not in e.message  # none beside it


def test_truncated_with_an_intact_previous_state(tmp_path: Path) -> None:
    _saved(tmp_path, epoch=3, step=120)
    path = _saved(tmp_path, epoch=4, step=160)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _refused(
        path,
        f"the previous state beside it ({PREV_STATE}, epoch 3, step 120) is intact",
        f"rename it to {STATE}",
    )
    os.replace(tmp_path / PREV_STATE, path)
    assert load_state(path)["epoch"] == 3


def test_a_missing_state_names_the_previous_one(tmp_path: Path) -> None:
    _saved(tmp_path, epoch=1, step=3)
    _saved(tmp_path, epoch=2, step=6)
    (tmp_path / STATE).unlink()
    _refused(tmp_path / STATE, "no such file", "(state.prev.safetensors, epoch 1, step 3)")


def test_both_damaged(tmp_path: Path) -> None:
    _saved(tmp_path, 1)
    path = _saved(tmp_path, 2)
    for p in (path, tmp_path / PREV_STATE):
        p.write_bytes(p.read_bytes()[:-5])
    _refused(path, f"the previous state beside it ({PREV_STATE}) is damaged too")


@pytest.mark.parametrize("seed", range(6))
def test_random_bytes(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    path = tmp_path / STATE
    n = [0, 7, 8, 64, 4096, 100_000][seed]
    raw = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    if seed == 3:  # a plausible header length, then noise
        raw = (48).to_bytes(8, "little") + raw[8:]
    path.write_bytes(raw)
    _refused(path)


def test_a_model_artifact_is_not_a_state(tmp_path: Path) -> None:
    s = prepare(_tiny_config(1))
    model = tmp_path / "model.safetensors"
    artifact.save(make_artifact(s, 1, {}), model)
    _refused(model, "a sigmoidnet model, not a resumable state")
    with pytest.raises(CheckpointError, match="not a resumable state"):
        peek_state(model)


def test_foreign_files(tmp_path: Path) -> None:
    plain = tmp_path / "plain.safetensors"
    save_file({"a": torch.zeros(2)}, str(plain))
    _refused(plain, "a safetensors file, but not a sigmoidnet state")
    _refused(tmp_path, "is a directory")
    _refused(tmp_path / "nothing.safetensors", "no such file")


def _rewrite(path: Path, edit: Any) -> None:
    """Load the file's raw tensors and metadata, let `edit` change them, save them back."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    tensors = load_file(str(path))
    edit(tensors, meta)
    save_file(tensors, str(path), metadata=meta)


def _skeleton_edit(fn: Any) -> Any:
    def edit(tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
        meta["state"] = fn(meta["state"])

    return edit


def _set(key: str, value: str) -> Any:
    def edit(tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
        meta[key] = value

    return edit


def _tensor(fn: Any) -> Any:
    def edit(tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
        fn(tensors)

    return edit


TAMPERINGS: dict[str, tuple[Any, str]] = {
    "absent-tensor": (_skeleton_edit(lambda s: s.replace('"t0"', '"t99"', 1)), "file lacks"),
    "tensor-twice": (_skeleton_edit(lambda s: s.replace('"t1"', '"t0"', 1)), "tensor 't0'"),
    "wrong-dtype": (_skeleton_edit(lambda s: s.replace("float32", "float64", 1)), "skeleton"),
    "unknown-dtype": (_skeleton_edit(lambda s: s.replace("float32", "float99", 1)), "dtype"),
    "wrong-shape": (_skeleton_edit(lambda s: s.replace("[40]", "[4,10]", 1)), "skeleton"),
    "unknown-tag": (_skeleton_edit(lambda s: s.replace("$tuple", "$set", 1)), "unknown node"),
    "extra-key": (_skeleton_edit(lambda s: s.replace('{"$list"', '{"x":1,"$list"', 1)), "keys"),
    "trailing-garbage": (_skeleton_edit(lambda s: s + "x"), "not valid JSON"),
    "bad-float": (
        _skeleton_edit(lambda s: s.replace('["epoch",3]', '["epoch",{"$float":"zz"}]', 1)),
        "a bad $float",
    ),
    "summary-disagrees": (_set("summary", '{"epoch": 4, "global_step": 120}'), "disagrees"),
    "nan-constant": (_skeleton_edit(lambda s: s.replace("0.01", "NaN", 1)), "not valid JSON"),
    "plain-inf": (_skeleton_edit(lambda s: s.replace("0.01", "1e999", 1)), "non-finite"),
    "bare-list": (
        _skeleton_edit(lambda s: s.replace('{"$list":[{"$dict":[["lr",0.01]]}]}', "[0]", 1)),
        "a bare JSON list",
    ),
    "not-a-dict": (_set("state", '{"$list":[]}'), "not a dict"),
    "duplicate-key": (
        _skeleton_edit(lambda s: s.replace('[["epoch",3]', '[["epoch",3],["epoch",3]', 1)),
        "twice",
    ),
    "json-duplicate": (_skeleton_edit(lambda s: '{"$dict":[],' + s[1:]), "duplicate key"),
    "list-key": (_skeleton_edit(lambda s: s.replace('["epoch",3]', '[{"$list":[]},3]', 1)), "key"),
    "deep": (_set("state", '{"$list":[' * 80 + "]}" * 80), "nested"),
    "very-deep": (_set("state", "[" * 100_000 + "]" * 100_000), "tampered state"),
    "bad-int": (_skeleton_edit(lambda s: s.replace("120", '{"$int":"12"}', 1)), "$int"),
    "bad-ndarray-dtype": (_skeleton_edit(lambda s: s.replace('"<u4"', '"|O"', 1)), "dtype"),
    "ndarray-size": (_skeleton_edit(lambda s: s.replace('"<u4"', '"<u8"', 1)), "bytes"),
    "newer": (_set("format_version", "2"), "newer than this sigmoidnet"),
    "bad-version": (_set("format_version", "one"), "bad format_version"),
    "other-kind": (_set("kind", "other"), "not a sigmoidnet state"),
    "extra-metadata": (_set("extra", "1"), "unknown metadata entry 'extra'"),
    "bad-summary": (_set("summary", '{"epoch": "3", "global_step": 1}'), "summary"),
    "bad-summary-json": (_set("summary", "{"), "not valid JSON"),
    "bad-checksum": (_set("sha256", "0" * 64), "damaged"),
    "extra-tensor": (_tensor(lambda t: t.__setitem__("t99", torch.zeros(1))), "not in the skel"),
    "missing-tensor": (_tensor(lambda t: t.pop("t0")), "file lacks"),
    "changed-weight": (_tensor(lambda t: t["t0"].__setitem__(5, 1e-3)), "SHA-256"),
    "retyped-tensor": (_tensor(lambda t: t.__setitem__("t0", t["t0"].double())), "float64"),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_tampered_files(tmp_path: Path, name: str) -> None:
    path = _saved(tmp_path)
    edit, fragment = TAMPERINGS[name]
    _rewrite(path, edit)
    _refused(path, fragment)


def test_missing_metadata_entry(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    _rewrite(path, lambda t, m: m.pop("sha256"))
    _refused(path, "metadata entry 'sha256' is missing")


def test_the_skeleton_is_what_the_docs_say(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert set(meta) == {"kind", "format_version", "sigmoidnet_version", "summary", "state",
                         "sha256"}  # fmt: skip
    assert meta["kind"] == "sigmoidnet-state" and meta["format_version"] == "1"
    assert json.loads(meta["summary"]) == {"epoch": 3, "global_step": 120}
    skeleton = json.loads(meta["state"])
    assert skeleton["$dict"][0] == ["epoch", 3]
    assert skeleton["$dict"][2] == ["w", {"$tensor": "t0", "dtype": "float32", "shape": [40]}]


# ---------------------------------------------------------------------------------------------
# the previous state, interrupted saves, write errors


def test_each_save_keeps_the_one_before(tmp_path: Path) -> None:
    path = _saved(tmp_path, 1, 10)
    assert not (tmp_path / PREV_STATE).exists()
    _saved(tmp_path, 2, 20)
    assert peek_state(path)["epoch"] == 2 and peek_state(tmp_path / PREV_STATE)["epoch"] == 1
    _saved(tmp_path, 3, 30)
    assert load_state(path)["epoch"] == 3 and load_state(tmp_path / PREV_STATE)["epoch"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [PREV_STATE, STATE]


def test_a_damaged_current_state_never_replaces_the_previous(tmp_path: Path) -> None:
    _saved(tmp_path, 1)
    path = _saved(tmp_path, 2)
    path.write_bytes(path.read_bytes()[:100])
    _saved(tmp_path, 3)
    assert load_state(path)["epoch"] == 3
    assert load_state(tmp_path / PREV_STATE)["epoch"] == 1


class _Boom(OSError):
    pass


@pytest.mark.parametrize("failing_call", [1, 2])
def test_a_failed_rename_keeps_the_old_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_call: int
) -> None:
    _saved(tmp_path, 1)
    path = _saved(tmp_path, 2)
    real = os.replace
    calls = []

    def replace(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == failing_call:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError) as info:
        _saved(tmp_path, 3)
    monkeypatch.undo()
    assert info.value.exit_code == 3
    assert info.value.message == (
        f"{path}: cannot write the resumable state: No space left on device"
    )
    assert load_state(path)["epoch"] == 2
    # the previous state is the old one or the current: never lost, never torn
    assert load_state(tmp_path / PREV_STATE)["epoch"] == (1 if failing_call == 1 else 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [PREV_STATE, STATE]


def test_an_unusable_folder_is_exit_2(tmp_path: Path) -> None:
    with pytest.raises(OutputError) as info:
        save_state(tmp_path / "missing" / STATE, {"epoch": 1})
    assert info.value.exit_code == 2
    assert "cannot write the resumable state" in info.value.message


_KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import torch
    from sigmoidnet import fsutil
    from sigmoidnet.engine.checkpoint import save_state

    folder, point = Path(sys.argv[1]), sys.argv[2]
    state = {"epoch": 2, "global_step": 20, "w": torch.arange(1000.0)}
    die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    if point == "fsync":  # the new file written, not yet renamed
        fsutil._fsync_file = die
    else:  # the n-th rename: 1 = previous state, 2 = the new state into place
        real, calls = os.replace, []
        def replace(src, dst):
            calls.append(dst)
            if len(calls) == int(point):
                die()
            real(src, dst)
        os.replace = replace
    save_state(folder / "state.safetensors", state)
    """
)


@pytest.mark.parametrize("point", ["fsync", "1", "2"])
def test_a_kill_during_save_leaves_a_state_and_the_next_save_cleans_up(
    tmp_path: Path, point: str
) -> None:
    path = _saved(tmp_path, 1, 10)
    if point != "fsync":
        _saved(tmp_path, 1, 10)  # a previous state exists too
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_SCRIPT, str(tmp_path), point],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    strays = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert strays and all(p.startswith(".") for p in strays)
    assert load_state(path)["epoch"] == 1  # the old state, whole
    if point != "fsync":
        assert load_state(tmp_path / PREV_STATE)["epoch"] == 1
    # a stray is never taken for a state: loading reads only the two final names
    _saved(tmp_path, 3, 30)
    assert sorted(p.name for p in tmp_path.iterdir()) == [PREV_STATE, STATE]
    assert load_state(path)["epoch"] == 3 and peek_state(tmp_path / PREV_STATE)["epoch"] == 1


def test_strays_of_other_files_are_left_alone(tmp_path: Path) -> None:
    other = tmp_path / ".model.safetensors.123.0123abcd.tmp"
    other.write_bytes(b"x")
    mine = tmp_path / ".state.safetensors.123.0123abcd.tmp"
    mine.write_bytes(b"x")
    _saved(tmp_path)
    assert other.exists() and not mine.exists()


def test_a_hard_link_failure_falls_back_to_a_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _saved(tmp_path, 1)

    def no_link(src: Any, dst: Any) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    _saved(tmp_path, 2)
    assert load_state(tmp_path / PREV_STATE)["epoch"] == 1
    assert load_state(tmp_path / STATE)["epoch"] == 2


# ---------------------------------------------------------------------------------------------
# no pickle


def test_nothing_is_unpickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("pickle used")

    for name in ("load", "loads", "dump", "dumps", "Unpickler", "Pickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(torch, "save", refuse)
    trainer = Trainer(prepare(_tiny_config(1)))
    trainer.fit()
    state = trainer.state_dict()
    back = round_trip(state, tmp_path)
    assert_same(state, back)
    assert b"\x80\x04\x95" not in (tmp_path / STATE).read_bytes()  # no pickle protocol 4 frame


def test_a_previous_state_that_is_a_link_of_the_current_one(tmp_path: Path) -> None:
    # what a save killed between its two renames leaves: both names on one file
    path = _saved(tmp_path, 1)
    os.link(path, tmp_path / PREV_STATE)
    _saved(tmp_path, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [PREV_STATE, STATE]
    assert load_state(tmp_path / PREV_STATE)["epoch"] == 1
    assert load_state(path)["epoch"] == 2
