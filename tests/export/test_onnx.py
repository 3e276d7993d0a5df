"""`sigmoidnet export --format onnx`: the whole model as one ONNX graph, run by onnxruntime
on raw rows and compared with `sigmoidnet predict` on the same rows (at most 1e-5 apart;
decisions identical but where a probability lies within 1e-6 of its threshold)."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sigmoidnet import artifact
from tests.cli.util import invoke

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[2]


def feeds(art: Any, path: Path) -> dict[str, np.ndarray]:
    """The raw columns of a CSV file as the graph's inputs: float (NaN = missing) for a
    numeric column, text ("" = missing) for a categorical one."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [c.name for c in art.preprocessor.columns]
    types = {c.name: pa.string() for c in art.preprocessor.columns if not c.numeric}
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            include_columns=names,
            column_types=types,
            null_values=["", "NA", "N/A", "NaN", "nan", "null", "NULL"],
            strings_can_be_null=True,
        ),
    )
    out: dict[str, np.ndarray] = {}
    for c in art.preprocessor.columns:
        col = table.column(c.name)
        if c.numeric:
            vals = col.cast(pa.float64()).fill_null(float("nan")).to_numpy(zero_copy_only=False)
            out[c.name] = np.asarray(vals, dtype=np.float32).reshape(-1, 1)
        else:
            text = ["" if v is None else v for v in col.to_pylist()]
            out[c.name] = np.asarray(text, dtype=object).reshape(-1, 1)
    return out


def predicted(ckpt: Path, data: Path, tmp_path: Path) -> tuple[np.ndarray, np.ndarray]:
    out = tmp_path / "p.csv"
    code, _, err = invoke(
        "predict", "--checkpoint", str(ckpt), "--data", str(data), "--out", str(out)
    )
    assert code == 0, err
    art = artifact.load(ckpt)
    rows = list(csv.DictReader(out.open()))
    probs = np.array([[float(r[f"p_{n}"]) for n in art.label_names] for r in rows])
    dec = np.array([[int(r[f"{n}_pred"]) for n in art.label_names] for r in rows])
    return probs, dec


def exported(ckpt: Path, tmp_path: Path) -> Path:
    out = tmp_path / "model.onnx"
    code, _, err = invoke(
        "export", "--checkpoint", str(ckpt), "--format", "onnx", "--out", str(out)
    )
    assert code == 0, err
    assert f"{out}: ONNX opset 17" in err
    return out


def assert_matches(ckpt: Path, data: Path, tmp_path: Path) -> None:
    art = artifact.load(ckpt)
    path = exported(ckpt, tmp_path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert {o.domain: o.version for o in model.opset_import} == {"": 17, "ai.onnx.ml": 3}
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want_p, want_d = predicted(ckpt, data, tmp_path)
    x = feeds(art, data)
    n = len(want_p)
    reps = -(-1024 // n)  # rows repeated up to a batch of 1,024
    big = {k: np.concatenate([v] * reps)[:1024] for k, v in x.items()}
    big_p = np.concatenate([want_p] * reps)[:1024]
    for size in (1, 2, 7, 1024):
        batch = big if size == 1024 else {k: v[:size] for k, v in x.items()}
        ref = big_p if size == 1024 else want_p[:size]
        probs, dec = sess.run(None, batch)
        assert probs.shape == ref.shape and dec.dtype == np.int64
        assert np.abs(probs - ref).max() <= 1e-5, (size, np.abs(probs - ref).max())
    probs, dec = sess.run(None, x)
    thr = np.array(art.thresholds)
    near = np.abs(want_p - thr) < 1e-6
    assert np.array_equal(dec[~near], want_d[~near])


def trained(cfg: Path, out: Path, *sets: str) -> Path:
    args = [x for s in sets for x in ("--set", s)]
    code, _, err = invoke("train", "--config", str(cfg), "--out", str(out), "-q", *args)
    assert code == 0, err
    return (out / "latest" / "model.safetensors").resolve()


def test_the_numeric_bundled_dataset(tmp_path: Path) -> None:
    ckpt = trained(ROOT / "configs" / "default.yaml", tmp_path / "r", "train.epochs=3")
    assert_matches(ckpt, ROOT / "data" / "breast_cancer.csv", tmp_path)


@pytest.mark.parametrize(
    "sets",
    [[], ["decision.threshold=f1", "decision.calibration=platt"]],
    ids=["plain", "calibrated-f1"],
)
def test_the_mixed_bundled_dataset_with_an_unseen_category_and_missing_values(
    tmp_path: Path, sets: list[str]
) -> None:
    ckpt = trained(ROOT / "configs" / "penguins.yaml", tmp_path / "r", *sets)
    lines = (ROOT / "data" / "penguins.csv").read_text().splitlines()
    header = lines[0].split(",")
    island = header.index("island")
    # an unseen island, a missing one, and a row with every measurement missing
    extra = []
    for i, value in ((1, "Atlantis"), (2, "NA")):
        cells = lines[i].split(",")
        cells[island] = value
        extra.append(",".join(cells))
    cells = lines[3].split(",")
    for name in ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"):
        cells[header.index(name)] = "NA"
    extra.append(",".join(cells))
    data = tmp_path / "rows.csv"
    data.write_text("\n".join(lines + extra) + "\n")
    assert_matches(ckpt, data, tmp_path)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "leaky_relu", "gelu", "silu", "elu"])
def test_every_activation(
    learnable_config: Path, learnable_csv: Path, tmp_path: Path, activation: str
) -> None:
    ckpt = trained(
        learnable_config, tmp_path / "r", f"model.activation={activation}",
        "model.hidden_sizes=[8, 4]", "train.epochs=2",
    )  # fmt: skip
    assert artifact.load(ckpt).config.model.activation == activation
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(learnable_csv)
    data = tmp_path / "x.csv"
    pacsv.write_csv(table.drop_columns(["id"]), data)  # the feature and label columns
    assert_matches(ckpt, data, tmp_path)


def test_without_onnx_it_says_what_to_install(
    learnable_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ckpt = trained(learnable_config, tmp_path / "r", "train.epochs=1")
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    code, _, err = invoke("export", "--checkpoint", str(ckpt))
    assert code == 2 and err.count("\n") == 1 and "pip install 'sigmoidnet[onnx]'" in err, err
    assert not ckpt.with_suffix(".onnx").exists()


def test_bad_usage(learnable_config: Path, tmp_path: Path) -> None:
    ckpt = trained(learnable_config, tmp_path / "r", "train.epochs=1")
    code, _, err = invoke("export", "--checkpoint", str(ckpt), "--format", "tflite")
    assert code == 2 and "expected onnx" in err
    code, _, err = invoke("export", "--checkpoint", str(ckpt), "--out", str(ckpt))
    assert code == 2 and "is the checkpoint itself" in err
    code, _, err = invoke("export", "--checkpoint", str(tmp_path / "nope.safetensors"))
    assert code == 4, err
    # the default output: beside the checkpoint
    code, _, err = invoke("export", "--checkpoint", str(ckpt))
    assert code == 0 and ckpt.with_suffix(".onnx").is_file(), err


def test_an_out_that_cannot_be_written(learnable_config: Path, tmp_path: Path) -> None:
    ckpt = trained(learnable_config, tmp_path / "r", "train.epochs=1")
    code, _, err = invoke("export", "--checkpoint", str(ckpt), "--out", str(tmp_path))
    assert code == 2 and err == f"error: {tmp_path}: is a folder; give the .onnx file to write\n"
    out = tmp_path / "no" / "m.onnx"
    code, _, err = invoke("export", "--checkpoint", str(ckpt), "--out", str(out))
    assert code == 2 and "create it first" in err and err.count("\n") == 1
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = invoke("export", "--checkpoint", str(ckpt), "--out", str(locked / "m.onnx"))
        if os.geteuid() != 0:  # root writes anywhere
            assert code == 2 and "cannot write the ONNX file" in err, err
    finally:
        locked.chmod(0o700)
