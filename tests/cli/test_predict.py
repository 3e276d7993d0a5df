"""`sigmoidnet predict`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sigmoidnet import artifact
from tests.cli.util import invoke


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_predict_round_trip(
    trained_run: Path, learnable_csv: Path, tmp_path: Path, suffix: str
) -> None:
    out = tmp_path / f"pred{suffix}"
    ckpt = trained_run / "model.safetensors"
    code, _, stderr = invoke(
        "predict",
        "--checkpoint",
        str(ckpt),
        "--data",
        str(learnable_csv),
        "--out",
        str(out),
        "--keep",
        "id",
    )
    assert code == 0, stderr
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    table = {".csv": pacsv.read_csv, ".parquet": pq.read_table, ".jsonl": pajson.read_json}[suffix](
        str(out)
    )
    assert table.column_names == ["id", "p_a", "p_b", "a_pred", "b_pred"]
    assert table.num_rows == 400
    assert table.column("id").to_pylist()[:3] == ["r0", "r1", "r2"]  # input order kept
    # probabilities equal the model's own forward pass on normalized features
    art = artifact.load(ckpt)
    src = np.loadtxt(
        learnable_csv, delimiter=",", skiprows=1, usecols=range(1, 7), dtype=np.float32
    )
    inputs = torch.from_numpy(art.preprocessor.transform(src))
    expected = art.model.predict_proba(inputs).double().numpy()
    got = np.column_stack([table.column("p_a").to_numpy(), table.column("p_b").to_numpy()])
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(table.column("a_pred").to_numpy(), (got[:, 0] > 0.5).astype(int))


def test_predict_to_stdout_with_threshold(trained_run: Path, learnable_csv: Path) -> None:
    ckpt = str(trained_run / "model.safetensors")
    data = str(learnable_csv)
    code, _, stderr = invoke("predict", "--checkpoint", ckpt, "--data", data)
    assert code == 3 and "extra column 'id'" in stderr  # not a feature: --keep it or drop it
    code, out, _ = invoke(
        "predict", "--checkpoint", ckpt, "--data", data, "--keep", "id", "--threshold", "0"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].replace('"', "") == "id,p_a,p_b,a_pred,b_pred"
    assert len(lines) == 401
    assert all(line.endswith(",1,1") for line in lines[1:])  # p > 0 everywhere
    code, _, stderr = invoke("predict", "--checkpoint", ckpt, "--data", data, "--threshold", "2")
    assert code == 2 and "--threshold" in stderr


def test_predict_refuses_to_overwrite_its_input(trained_run: Path, learnable_csv: Path) -> None:
    ckpt = str(trained_run / "model.safetensors")
    before = learnable_csv.read_bytes()
    code, _, stderr = invoke(
        "predict", "--checkpoint", ckpt, "--data", str(learnable_csv), "--keep", "id",
        "--out", str(learnable_csv),
    )  # fmt: skip
    assert code == 2 and "overwrite the input" in stderr
    assert learnable_csv.read_bytes() == before
