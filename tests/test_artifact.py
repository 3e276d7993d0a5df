from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sigmoidnet import artifact
from sigmoidnet.artifact import Artifact
from sigmoidnet.config import load_config
from sigmoidnet.errors import CheckpointError
from sigmoidnet.model import MLP
from sigmoidnet.preprocess import Preprocessor

FIXTURES = Path(__file__).parent / "fixtures" / "v1"


def transformed(art: Artifact, x: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(art.preprocessor.transform(x.numpy()))


def make(tmp_path: Path, normalized: bool = True) -> tuple[Artifact, Path]:
    torch.manual_seed(0)
    cfg = load_config(None, ["data.n_features=5", "data.n_labels=3", "model.hidden_sizes=[7, 4]"])
    model = MLP(5, [7, 4], 3).eval()
    art = Artifact(
        model=model,
        config=cfg,
        feature_names=[f"f{i}" for i in range(5)],
        label_names=["a", "b", "c"],
        thresholds=[0.5, 0.3, 0.7],
        preprocessor=Preprocessor.from_state(
            {"feature_names": [f"f{i}" for i in range(5)], "normalize": "standard"},
            {"mean": torch.randn(5).numpy(), "std": (torch.rand(5) + 0.5).numpy()},
        )
        if normalized
        else Preprocessor([f"f{i}" for i in range(5)], "none").fit(np.zeros((1, 5), np.float32)),
        epoch=4,
        metrics={"val_loss": 0.25},
    )
    path = tmp_path / "model.safetensors"
    artifact.save(art, path)
    return art, path


def test_round_trip_gives_identical_predictions(tmp_path: Path) -> None:
    art, path = make(tmp_path)
    back = artifact.load(path)
    x = torch.randn(11, 5)
    torch.testing.assert_close(
        back.model.predict_proba(transformed(back, x)),
        art.model.predict_proba(transformed(art, x)),
        rtol=0,
        atol=0,
    )
    assert back.feature_names == art.feature_names
    assert back.label_names == ["a", "b", "c"]
    assert back.thresholds == [0.5, 0.3, 0.7]
    assert back.epoch == 4 and back.metrics == {"val_loss": 0.25}
    assert back.config == art.config
    assert back.preprocessor.mean_ is not None and art.preprocessor.mean_ is not None
    assert np.array_equal(back.preprocessor.mean_, art.preprocessor.mean_)


def test_without_normalization(tmp_path: Path) -> None:
    _, path = make(tmp_path, normalized=False)
    back = artifact.load(path)
    assert back.preprocessor.mean_ is None and back.preprocessor.std_ is None
    x = torch.randn(2, 5)
    assert torch.equal(transformed(back, x), x)


def test_no_temporary_files_left(tmp_path: Path) -> None:
    make(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def expect(path: Path, fragment: str) -> None:
    with pytest.raises(CheckpointError) as exc:
        artifact.load(path)
    assert exc.value.exit_code == 4
    assert fragment in exc.value.message
    assert "\n" not in exc.value.message


def test_missing_file(tmp_path: Path) -> None:
    expect(tmp_path / "nope.safetensors", "no such file")


def test_truncated_file(tmp_path: Path) -> None:
    _, path = make(tmp_path)
    data = path.read_bytes()
    for cut in (4, 100, len(data) - 10):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            artifact.load(path)


def test_not_safetensors(tmp_path: Path) -> None:
    p = tmp_path / "x.safetensors"
    p.write_text("hello, this is not a model at all")
    expect(p, "not a safetensors file")


def test_pickle_file_is_refused_without_unpickling(tmp_path: Path) -> None:
    p = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(2)}, p)
    expect(p, "not a safetensors file")


def test_foreign_safetensors(tmp_path: Path) -> None:
    p = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(p))
    expect(p, "not a sigmoidnet model")


def tampered(
    tmp_path: Path,
    name: str,
    meta_update: dict[str, str] | None = None,
    tensor_update: dict[str, torch.Tensor] | None = None,
) -> Path:
    """A saved artifact rewritten with some metadata entries or tensors replaced."""
    _, path = make(tmp_path)
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
    meta.update(meta_update or {})
    tensors.update(tensor_update or {})
    out = tmp_path / name
    save_file(tensors, str(out), metadata=meta)
    return out


def test_newer_format(tmp_path: Path) -> None:
    p = tampered(tmp_path, "newer.safetensors", meta_update={"format_version": "99"})
    expect(p, "format version 99 is newer")


def test_directory(tmp_path: Path) -> None:
    expect(tmp_path, "is a directory")


def test_bad_normalization_tensors(tmp_path: Path) -> None:
    p = tampered(tmp_path, "zero-std.safetensors", tensor_update={"preprocess.std": torch.zeros(5)})
    expect(p, "normalization tensors hold non-finite or non-positive values")


def test_weights_that_do_not_match(tmp_path: Path) -> None:
    bad = {"model.net.0.weight": torch.zeros(3, 3)}
    p = tampered(tmp_path, "shape.safetensors", tensor_update=bad)
    expect(p, "net.0.weight")


# ---------------------------------------------------------------------------------------------
# format 1 (the first release): tests/fixtures/v1 was written by sigmoidnet 0.1.0 at 1775323
# (`sigmoidnet train --config v1.yaml`, then predict and eval --data on v1_data.csv)


def test_a_format_1_artifact_loads_with_its_normalization() -> None:
    art = artifact.load(FIXTURES / "model.safetensors")
    assert art.format_version == 1 and art.heldout is None
    assert art.feature_names == ["f0", "f1", "f2"] and art.label_names == ["y"]
    assert art.thresholds == [0.5]
    pre = art.preprocessor
    assert pre.normalize == "standard" and pre.mean_ is not None and pre.mean_.shape == (3,)


def test_a_format_1_artifact_is_saved_again_as_the_current_format(tmp_path: Path) -> None:
    art = artifact.load(FIXTURES / "model.safetensors")
    artifact.save(art, tmp_path / "m.safetensors")
    with safe_open(str(tmp_path / "m.safetensors"), framework="pt") as f:
        assert f.metadata()["format_version"] == str(artifact.FORMAT_VERSION)
        assert sorted(k for k in f.keys() if not k.startswith("model.")) == [  # noqa: SIM118
            "preprocess.mean",
            "preprocess.std",
        ]
    back = artifact.load(tmp_path / "m.safetensors")
    x = torch.randn(7, 3)
    assert torch.equal(
        back.model.predict_proba(transformed(back, x)), art.model.predict_proba(transformed(art, x))
    )
