"""Tampered checkpoints: every one is a one-line `CheckpointError` (exit 4), found before
anything is built, and nothing huge is allocated.

Each case starts from a valid format-2 artifact (`tests.test_artifact.make`), takes it apart
with `tests.artifact_util`, changes one thing (the metadata JSON, a tensor, the header, the
bytes) and loads it again."""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sigmoidnet import artifact
from sigmoidnet.errors import CheckpointError, UsageError
from sigmoidnet.limits import MEMORY_ENV
from tests.artifact_util import (
    Tensor,
    array,
    metadata_info,
    pack,
    read_safetensors,
    safetensors_bytes,
    set_metadata_info,
    tensor,
    unpack,
    write_safetensors,
)
from tests.test_artifact import FIXTURES, make


def expect(path: Path, fragment: str) -> str:
    with pytest.raises(CheckpointError) as exc:
        artifact.load(path)
    msg = exc.value.message
    assert exc.value.exit_code == 4
    assert "\n" not in msg and "\r" not in msg, msg
    assert fragment in msg, msg
    assert len(msg) < 400, msg
    return msg


@dataclass
class Parts:
    """A valid artifact, taken apart: edit any of these, then `write`."""

    info: dict[str, Any]  # the sigmoidnet metadata JSON
    meta: dict[str, str]  # the safetensors string map (info is re-encoded into it)
    tensors: dict[str, Tensor]  # in file order

    def write(self, path: Path, info_text: str | None = None) -> Path:
        meta = dict(self.meta)
        meta["sigmoidnet"] = json.dumps(self.info) if info_text is None else info_text
        header, data = pack(self.tensors, meta)
        return write_safetensors(path, header, data)


def parts(tmp_path: Path, source: Path | None = None) -> Parts:
    if source is None:
        _, source = make(tmp_path)
    header, data = read_safetensors(source)
    return Parts(metadata_info(header), dict(header["__metadata__"]), unpack(header, data))


def test_the_parts_put_back_together_load(tmp_path: Path) -> None:
    p = parts(tmp_path).write(tmp_path / "again.safetensors")
    art = artifact.load(p)
    assert art.label_names == ["a", "b", "c"] and art.thresholds == [0.5, 0.3, 0.7]
    # the low-level helpers too: header and data as read, metadata re-encoded
    header, data = read_safetensors(p)
    info = metadata_info(header)
    info["decision"]["thresholds"] = [0.1, 0.2, 0.3]
    set_metadata_info(header, info)
    again = artifact.load(write_safetensors(tmp_path / "low.safetensors", header, data))
    assert again.thresholds == [0.1, 0.2, 0.3]


# ---------------------------------------------------------------------------------------------
# the sigmoidnet metadata: one strict schema per format version


def _set(*keys: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(info: dict[str, Any]) -> None:
        d = info
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value

    return edit


def _delete(*keys: str) -> Callable[[dict[str, Any]], None]:
    def edit(info: dict[str, Any]) -> None:
        d = info
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]

    return edit


HEX = "ab" * 32
HELD = {"path": "/d.csv", "fraction": 0.2, "seed": 0, "rows": 10, "n_val": 2, "fingerprint": HEX}

METADATA_CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("no-architecture", _delete("architecture"), "architecture: missing"),
    (
        "architecture-list",
        _set("architecture", value=[5, [7, 4], 3]),
        "architecture: expected an object",
    ),
    (
        "architecture-string",
        _set("architecture", value="5-7-4-3"),
        "architecture: expected an object",
    ),
    ("architecture-null", _set("architecture", value=None), "architecture: expected an object"),
    ("hidden-float", _set("architecture", "hidden_sizes", value=[7.0, 4]), "hidden_sizes.0"),
    ("hidden-string", _set("architecture", "hidden_sizes", value=["7", 4]), "hidden_sizes.0"),
    ("hidden-bool", _set("architecture", "hidden_sizes", value=[True, 4]), "hidden_sizes.0"),
    ("hidden-zero", _set("architecture", "hidden_sizes", value=[0, 4]), "greater than"),
    ("hidden-negative", _set("architecture", "hidden_sizes", value=[7, -4]), "hidden_sizes.1"),
    ("hidden-huge", _set("architecture", "hidden_sizes", value=[2**40, 4]), "less than"),
    ("hidden-not-a-list", _set("architecture", "hidden_sizes", value=7), "hidden_sizes"),
    ("input-size-string", _set("architecture", "input_size", value="5"), "input_size"),
    ("architecture-extra-key", _set("architecture", "depth", value=2), "unknown key"),
    ("format-version-string", _set("format_version", value="2"), "format_version"),
    ("format-version-float", _set("format_version", value=2.0), "format_version"),
    ("format-version-bool", _set("format_version", value=True), "format_version"),
    ("format-version-other", _set("format_version", value=1), "disagrees"),
    ("format-version-missing", _delete("format_version"), "format_version: missing"),
    ("threshold-nan", _set("decision", "thresholds", value=[0.5, math.nan, 0.7]), "finite"),
    ("threshold-inf", _set("decision", "thresholds", value=[0.5, math.inf, 0.7]), "finite"),
    ("threshold-2", _set("decision", "thresholds", value=[0.5, 2, 0.7]), "less than or equal"),
    ("threshold-neg", _set("decision", "thresholds", value=[-1, 0.3, 0.7]), "greater than"),
    ("threshold-string", _set("decision", "thresholds", value=["0.5", 0.3, 0.7]), "thresholds"),
    ("thresholds-count", _set("decision", "thresholds", value=[0.5]), "1 thresholds for 3"),
    ("thresholds-missing", _delete("decision", "thresholds"), "decision.thresholds: missing"),
    (
        "calibration",
        _set("decision", "calibration", value={"a": 1}),
        "decision.calibration.method: missing",
    ),
    ("features-count", _set("feature_names", value=["f0", "f1"]), "2 feature names"),
    ("features-not-str", _set("feature_names", value=[0, 1, 2, 3, 4]), "feature_names.0"),
    ("features-duplicate", _set("feature_names", value=["f0"] * 5), "unique"),
    ("features-empty", _set("feature_names", value=[]), "feature_names"),
    ("labels-count", _set("label_names", value=["a", "b"]), "2 label names"),
    ("labels-string", _set("label_names", value="abc"), "label_names"),
    ("labels-surrogate", _set("label_names", value=["a", "b", "\ud800"]), "not valid Unicode"),
    ("preprocessor-missing", _delete("preprocessor"), "preprocessor: missing"),
    ("preprocessor-kind", _set("preprocessor", "normalize", value="minmax"), "normalize"),
    (
        "preprocessor-features",
        _set("preprocessor", "feature_names", value=list("vwxyz")),
        "disagree",
    ),
    ("preprocessor-extra", _set("preprocessor", "scale", value="mean"), "unknown key"),
    ("preprocessor-part", _set("preprocessor", "impute", value="mean"), "together"),
    ("heldout-list", _set("heldout", value=[1, 2]), "heldout"),
    ("heldout-fingerprint", _set("heldout", value={**HELD, "fingerprint": "xyz"}), "fingerprint"),
    ("heldout-fraction", _set("heldout", value={**HELD, "fraction": 1.5}), "fraction"),
    ("heldout-seed", _set("heldout", value={**HELD, "seed": -1}), "seed"),
    ("heldout-n-val", _set("heldout", value={**HELD, "n_val": 11}), "exceeds rows"),
    ("heldout-missing-key", _set("heldout", value={"path": "/d.csv"}), "missing"),
    ("heldout-extra-key", _set("heldout", value={**HELD, "x": 1}), "unknown key"),
    ("epoch-string", _set("epoch", value="4"), "epoch"),
    ("epoch-negative", _set("epoch", value=-1), "epoch"),
    ("metrics-nested", _set("metrics", value={"val": {"loss": 1}}), "metrics"),
    ("metrics-nan", _set("metrics", value={"val_loss": math.nan}), "metrics"),
    ("metrics-list", _set("metrics", value=[1]), "metrics"),
    ("version-int", _set("sigmoidnet_version", value=1), "sigmoidnet_version"),
    ("unknown-key", _set("extra", value=1), "extra: unknown key"),
    ("config-missing", _delete("config"), "config: missing"),
    ("config-list", _set("config", value=[1]), "config"),
    ("config-bad-value", _set("config", "model", "activation", value="swish"), "bad config"),
    ("config-unknown-key", _set("config", "model", "layers", value=3), "bad config"),
    ("config-disagrees", _set("config", "model", "hidden_sizes", value=[7]), "disagrees"),
]


@pytest.mark.parametrize(
    ("edit", "fragment"), [c[1:] for c in METADATA_CASES], ids=[c[0] for c in METADATA_CASES]
)
def test_tampered_metadata(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], fragment: str
) -> None:
    pts = parts(tmp_path)
    edit(pts.info)
    expect(pts.write(tmp_path / "t.safetensors"), fragment)


def _info_text(pts: Parts, extra: str) -> str:
    """The metadata JSON with `"x": <extra>` spliced in as raw text."""
    return json.dumps(pts.info)[:-1] + f', "x": {extra}}}'


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),  # json.loads: RecursionError
        ("[" * 40 + "]" * 40, "nested too deeply"),  # parses, but past the depth cap
        ("1" * 5000, "too many digits"),  # Python's int-string limit: ValueError
        ('{"a": 1, "a": 2}', "duplicate key"),
        ("[1, 2", "not valid JSON"),
    ],
    ids=["recursion", "depth-cap", "5000-digits", "duplicate-key", "syntax"],
)
def test_hostile_metadata_json(tmp_path: Path, raw: str, fragment: str) -> None:
    pts = parts(tmp_path)
    expect(pts.write(tmp_path / "t.safetensors", _info_text(pts, raw)), fragment)


def test_a_5000_digit_architecture_size(tmp_path: Path) -> None:
    pts = parts(tmp_path)
    text = json.dumps(pts.info).replace('"input_size": 5', '"input_size": ' + "9" * 5000)
    expect(pts.write(tmp_path / "t.safetensors", text), "too many digits")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("[1, 2]", "not a JSON object"), ("not json", "not valid JSON"), ("", "not valid JSON")],
)
def test_metadata_that_is_not_an_object(tmp_path: Path, text: str, fragment: str) -> None:
    expect(parts(tmp_path).write(tmp_path / "t.safetensors", text), fragment)


@pytest.mark.parametrize(
    ("version", "fragment"),
    [("2.0", "bad format_version"), ("two", "bad format_version"), ("0", "bad format_version"),
     (" 2", "bad format_version"), ("9" * 5000, "bad format_version"), ("5", "newer")],
)  # fmt: skip
def test_outer_format_version(tmp_path: Path, version: str, fragment: str) -> None:
    pts = parts(tmp_path)
    pts.meta["format_version"] = version
    expect(pts.write(tmp_path / "t.safetensors"), fragment)


def test_unknown_metadata_entry(tmp_path: Path) -> None:
    pts = parts(tmp_path)
    pts.meta["comment"] = "hi"
    expect(pts.write(tmp_path / "t.safetensors"), "unknown metadata entry 'comment'")


def test_metadata_entry_that_is_not_a_string(tmp_path: Path) -> None:
    pts = parts(tmp_path)
    header, data = pack(pts.tensors, {**pts.meta, "sigmoidnet": json.dumps(pts.info)})
    header["__metadata__"]["format_version"] = 2
    expect(write_safetensors(tmp_path / "t.safetensors", header, data), "bad format_version")
    header["__metadata__"]["format_version"] = "2"
    header["__metadata__"]["sigmoidnet"] = pts.info  # an object, not the JSON text
    expect(write_safetensors(tmp_path / "t.safetensors", header, data), "not a string")


# ---------------------------------------------------------------------------------------------
# the tensors: names, dtypes, shapes and offsets from the header, before anything is read


@pytest.mark.parametrize("dtype", ["I8", "U8", "F64", "F16", "I32", "I64", "BOOL"])
@pytest.mark.parametrize("name", ["model.net.0.weight", "preprocess.std"])
def test_tensors_of_another_dtype(tmp_path: Path, dtype: str, name: str) -> None:
    pts = parts(tmp_path)
    values = array(pts.tensors[name])
    pts.tensors[name] = tensor(values if dtype != "BOOL" else values > 0, dtype)
    expect(pts.write(tmp_path / "t.safetensors"), f"tensor '{name}' has dtype '{dtype}'")


@pytest.mark.parametrize("dtype", ["BF16", "F8_E4M3", "XYZ", ""])
def test_dtypes_numpy_does_not_have(tmp_path: Path, dtype: str) -> None:
    pts = parts(tmp_path)
    _, shape, raw = pts.tensors["model.net.2.bias"]
    pts.tensors["model.net.2.bias"] = (dtype, shape, raw[: len(raw) // 2])
    expect(pts.write(tmp_path / "t.safetensors"), f"has dtype '{dtype}', expected F32")


def test_transposed_weights(tmp_path: Path) -> None:
    pts = parts(tmp_path)
    pts.tensors["model.net.0.weight"] = tensor(array(pts.tensors["model.net.0.weight"]).T)
    msg = expect(pts.write(tmp_path / "t.safetensors"), "has shape [5, 7], expected [7, 5]")
    assert "(out, in)" in msg and "5 → 7 → 4 → 3" in msg


@pytest.mark.parametrize(
    ("shape", "fragment"),
    [([7, 5, 1], "has shape [7, 5, 1]"), ([35], "has shape [35]"), ([], "has shape []")],
)
def test_reshaped_weights(tmp_path: Path, shape: list[int], fragment: str) -> None:
    pts = parts(tmp_path)
    _, _, raw = pts.tensors["model.net.0.weight"]
    pts.tensors["model.net.0.weight"] = ("F32", shape, raw)
    expect(pts.write(tmp_path / "t.safetensors"), fragment)


def test_a_missing_tensor(tmp_path: Path) -> None:
    pts = parts(tmp_path)
    del pts.tensors["model.net.2.bias"]
    expect(pts.write(tmp_path / "t.safetensors"), "missing tensor 'model.net.2.bias'")


def test_missing_normalization_tensors(tmp_path: Path) -> None:
    pts = parts(tmp_path)
    del pts.tensors["preprocess.mean"], pts.tensors["preprocess.std"]
    expect(pts.write(tmp_path / "t.safetensors"), "missing tensor 'preprocess.mean' (and 1 more)")


def test_an_extra_tensor(tmp_path: Path) -> None:
    pts = parts(tmp_path)
    pts.tensors["model.net.9.weight"] = tensor(np.zeros(3))
    expect(pts.write(tmp_path / "t.safetensors"), "unexpected tensor 'model.net.9.weight'")


def test_normalization_tensors_without_normalization(tmp_path: Path) -> None:
    pts = parts(tmp_path)
    pts.info["preprocessor"]["normalize"] = "none"
    expect(pts.write(tmp_path / "t.safetensors"), "unexpected tensor 'preprocess.mean'")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("name", ["model.net.0.weight", "model.net.4.bias", "preprocess.mean"])
def test_non_finite_values(tmp_path: Path, name: str, value: float) -> None:
    pts = parts(tmp_path)
    values = array(pts.tensors[name]).copy()
    values.reshape(-1)[1] = value
    pts.tensors[name] = tensor(values)
    expect(pts.write(tmp_path / "t.safetensors"), f"tensor '{name}' holds 1 non-finite value")


def test_large_finite_weights_are_not_mistaken_for_inf(tmp_path: Path) -> None:
    pts = parts(tmp_path)
    big = np.full((7, 5), np.finfo(np.float32).max, np.float32)  # a float32 sum overflows
    pts.tensors["model.net.0.weight"] = tensor(big)
    art = artifact.load(pts.write(tmp_path / "t.safetensors"))
    assert float(art.model.net[0].weight.detach().max()) == float(np.finfo(np.float32).max)


def test_zero_std(tmp_path: Path) -> None:
    pts = parts(tmp_path)
    pts.tensors["preprocess.std"] = tensor(np.zeros(5))
    expect(pts.write(tmp_path / "t.safetensors"), "non-finite or non-positive")


def _raw_header(tmp_path: Path) -> tuple[dict[str, Any], bytes]:
    pts = parts(tmp_path)
    return pack(pts.tensors, {**pts.meta, "sigmoidnet": json.dumps(pts.info)})


def test_overlapping_offsets(tmp_path: Path) -> None:
    header, data = _raw_header(tmp_path)
    header["model.net.0.bias"]["data_offsets"] = [0, 28]
    header["model.net.0.weight"]["data_offsets"] = [0, 140]  # the same bytes twice
    expect(write_safetensors(tmp_path / "t.safetensors", header, data), "bad data offsets")


def test_a_gap_between_tensors(tmp_path: Path) -> None:
    header, data = _raw_header(tmp_path)
    first = next(k for k in header if k != "__metadata__")
    for k, v in header.items():
        if k not in ("__metadata__", first):
            v["data_offsets"] = [v["data_offsets"][0] + 4, v["data_offsets"][1] + 4]
    data = data[:28] + b"\0" * 4 + data[28:]
    expect(write_safetensors(tmp_path / "t.safetensors", header, data), "bad data offsets")


@pytest.mark.parametrize(
    ("offsets", "fragment"),
    [([-4, 24], "data_offsets.0"), ([0], "data_offsets"), ("0-28", "data_offsets"),
     ([0.0, 28.0], "data_offsets.0"), ([0, 10**30], "data_offsets.1")],
)  # fmt: skip
def test_bad_offset_values(tmp_path: Path, offsets: Any, fragment: str) -> None:
    header, data = _raw_header(tmp_path)
    header["model.net.0.bias"]["data_offsets"] = offsets
    expect(write_safetensors(tmp_path / "t.safetensors", header, data), fragment)


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [([1, 2], "bad header entry for tensor 'model.net.0.bias'"),
     ({"dtype": "F32", "shape": [7]}, "data_offsets: missing"),
     ({"dtype": "F32", "shape": [7.0], "data_offsets": [0, 28]}, "shape.0"),
     ({"dtype": "F32", "shape": [7], "data_offsets": [0, 28], "x": 1}, "unknown key")],
)  # fmt: skip
def test_bad_header_entries(tmp_path: Path, entry: Any, fragment: str) -> None:
    header, data = _raw_header(tmp_path)
    header["model.net.0.bias"] = entry
    expect(write_safetensors(tmp_path / "t.safetensors", header, data), fragment)


def test_extra_bytes_after_the_data(tmp_path: Path) -> None:
    header, data = _raw_header(tmp_path)
    expect(write_safetensors(tmp_path / "t.safetensors", header, data + b"x" * 12), "extra bytes")


def test_truncated_data(tmp_path: Path) -> None:
    header, data = _raw_header(tmp_path)
    expect(write_safetensors(tmp_path / "t.safetensors", header, data[:-4]), "truncated")


# ---------------------------------------------------------------------------------------------
# the header itself


@pytest.mark.parametrize(
    ("header", "fragment"),
    [("{not json", "header is not valid JSON"), ("[1, 2, 3]", "not a JSON object"),
     ("[" * 100_000 + "]" * 100_000, "nested too deeply"), ('{"a": ' + "7" * 5000 + "}",
     "too many digits"), (b"\xff\xfe{}", "not UTF-8"), ('{"a": 1, "a": 1}', "duplicate key"),
     ("{}", "not a sigmoidnet model"), ('{"__metadata__": {"format": "x"}}', "not a sigmoidnet")],
)  # fmt: skip
def test_bad_headers(tmp_path: Path, header: str | bytes, fragment: str) -> None:
    expect(write_safetensors(tmp_path / "t.safetensors", header), fragment)


def test_a_duplicate_tensor_in_the_header(tmp_path: Path) -> None:
    header, data = _raw_header(tmp_path)
    text = json.dumps(header)
    entry = json.dumps({"model.net.0.bias": header["model.net.0.bias"]})[1:-1]
    text = text[:-1] + ", " + entry + "}"
    expect(write_safetensors(tmp_path / "t.safetensors", text, data), "duplicate key")


@pytest.mark.parametrize("length", [0, 1, 2**63, 2**64 - 1, 10**9])
def test_header_length_past_the_file(tmp_path: Path, length: int) -> None:
    p = write_safetensors(tmp_path / "t.safetensors", "{}", b"", length=length)
    expect(p, "not a safetensors file")


def test_header_length_past_the_cap(tmp_path: Path) -> None:
    # a sparse file larger than the header length: the cap applies before anything is read
    p = tmp_path / "t.safetensors"
    with p.open("wb") as f:
        f.write((artifact.MAX_HEADER_BYTES + 8).to_bytes(8, "little"))
        f.truncate(artifact.MAX_HEADER_BYTES + 1000)
    expect(p, "exceeds the limit of 100,000,000 bytes")


def test_empty_and_tiny_files(tmp_path: Path) -> None:
    for data in (b"", b"\x01", b"1234567"):
        p = tmp_path / "t.safetensors"
        p.write_bytes(data)
        expect(p, "too short")


# ---------------------------------------------------------------------------------------------
# sizes nobody can allocate


def _huge(tmp_path: Path, hidden: int) -> tuple[Parts, dict[str, Tensor]]:
    """Parts whose metadata says hidden_sizes [hidden, 4], with tensors of those shapes
    declared (and no data)."""
    pts = parts(tmp_path)
    pts.info["architecture"]["hidden_sizes"] = [hidden, 4]
    pts.info["config"]["model"]["hidden_sizes"] = [hidden, 4]
    shapes = {
        "model.net.0.weight": [hidden, 5],
        "model.net.0.bias": [hidden],
        "model.net.2.weight": [4, hidden],
    }
    return pts, {k: ("F32", shapes.get(k, s), b"") for k, (_, s, _) in pts.tensors.items()}


def _declared(tensors: dict[str, Tensor], meta: dict[str, str]) -> tuple[dict[str, Any], int]:
    header: dict[str, Any] = {"__metadata__": meta}
    pos = 0
    for name, (dtype, shape, _) in tensors.items():
        n = 4 * math.prod(shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [pos, pos + n]}
        pos += n
    return header, pos


def test_a_declared_hidden_size_of_2e8_in_a_small_file(tmp_path: Path) -> None:
    pts, tensors = _huge(tmp_path, 200_000_000)
    header, _ = _declared(tensors, {**pts.meta, "sigmoidnet": json.dumps(pts.info)})
    p = write_safetensors(tmp_path / "t.safetensors", header, b"\0" * 1000)
    expect(p, "the file is truncated: the header declares 8.0 GB of tensor data")


def test_a_model_that_does_not_fit_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a consistent header over a sparse 8 GB file: refused from the sizes, nothing read
    pts, tensors = _huge(tmp_path, 200_000_000)
    header, nbytes = _declared(tensors, {**pts.meta, "sigmoidnet": json.dumps(pts.info)})
    p = write_safetensors(tmp_path / "t.safetensors", header)
    with p.open("r+b") as f:
        f.truncate(p.stat().st_size + nbytes)
    monkeypatch.setenv(MEMORY_ENV, "1G")
    msg = expect(p, "needs about")
    assert "1.0 GB is available" in msg and "5 → 200000000 → 4 → 3" in msg


def test_memory_limit_refuses_even_a_small_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, p = make(tmp_path)
    monkeypatch.setenv(MEMORY_ENV, "1000")
    expect(p, "1.0 KB is available")
    monkeypatch.setenv(MEMORY_ENV, "2G")
    artifact.load(p)


def test_a_bad_memory_limit_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, p = make(tmp_path)
    monkeypatch.setenv(MEMORY_ENV, "lots")
    with pytest.raises(UsageError) as exc:
        artifact.load(p)
    assert exc.value.exit_code == 2 and MEMORY_ENV in exc.value.message


def test_a_header_too_big_to_parse_in_the_memory_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 3 bytes of JSON per empty list: json.loads would take ~20 times the file in objects
    p = write_safetensors(tmp_path / "t.safetensors", "[" + "[]," * 1_000_000 + "[]]")
    monkeypatch.setenv(MEMORY_ENV, "20M")
    expect(p, "reading header (3,000,008 bytes of JSON) would need up to")
    pts = parts(tmp_path)  # the metadata's JSON, inside the header, counts too
    monkeypatch.setenv(MEMORY_ENV, "1M")
    text = _info_text(pts, "[" + "0," * 100_000 + "0]")
    expect(pts.write(tmp_path / "t.safetensors", text), "would need up to 10.4 MB")


def test_a_thousand_layers_more_than_the_cap(tmp_path: Path) -> None:
    pts = parts(tmp_path)
    pts.info["architecture"]["hidden_sizes"] = [1] * 5000
    expect(pts.write(tmp_path / "t.safetensors"), "hidden_sizes")


# ---------------------------------------------------------------------------------------------
# special and unreadable files


def test_dev_zero() -> None:
    expect(Path("/dev/zero"), "not a regular file (a character device)")


def test_a_fifo_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    expect(fifo, "not a regular file (a FIFO)")


def test_a_symlink_loop(tmp_path: Path) -> None:
    loop = tmp_path / "loop.safetensors"
    loop.symlink_to(loop.name)
    expect(loop, "symlink loop")


def test_a_directory(tmp_path: Path) -> None:
    expect(tmp_path, "is a directory")


def test_a_path_with_a_nul_byte(tmp_path: Path) -> None:
    expect(Path(str(tmp_path) + "/a\0b"), "NUL byte")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file(tmp_path: Path) -> None:
    _, p = make(tmp_path)
    p.chmod(0)
    try:
        expect(p, "permission denied")
    finally:
        p.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_a_symlink_to_a_model_loads(tmp_path: Path) -> None:
    _, p = make(tmp_path)
    link = tmp_path / "link.safetensors"
    link.symlink_to(p.name)
    assert artifact.load(link).label_names == ["a", "b", "c"]


def test_the_file_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, p = make(tmp_path)
    size = p.stat().st_size
    reads: list[int] = []
    real = os.fdopen

    def counting(*a: Any, **k: Any) -> Any:
        f = real(*a, **k)
        inner = f.readinto

        class Wrapped:
            def __getattr__(self, name: str) -> Any:
                return getattr(f, name)

            def readinto(self, b: Any) -> Any:
                n = inner(b)
                reads.append(n)
                return n

            def __enter__(self) -> Wrapped:
                return self

            def __exit__(self, *exc: Any) -> None:
                f.close()

        return Wrapped()

    monkeypatch.setattr(os, "fdopen", counting)
    artifact.load(p)
    assert sum(reads) == size


# ---------------------------------------------------------------------------------------------
# format 1 under its own schema


def test_format_1_tampered(tmp_path: Path) -> None:
    src = FIXTURES / "model.safetensors"
    pts = parts(tmp_path, src)
    pts.info["thresholds"] = [math.nan]
    expect(pts.write(tmp_path / "t.safetensors"), "thresholds.0: expected a finite number, got NaN")
    pts = parts(tmp_path, src)
    pts.info["decision"] = {"thresholds": [0.5], "calibration": None}  # a format-2 key
    expect(pts.write(tmp_path / "t.safetensors"), "decision: unknown key")
    pts = parts(tmp_path, src)
    del pts.tensors["norm.std"]
    expect(pts.write(tmp_path / "t.safetensors"), "norm.mean alone")
    pts = parts(tmp_path, src)
    pts.tensors["norm.std"] = tensor(array(pts.tensors["norm.std"]) > 0, "BOOL")
    expect(pts.write(tmp_path / "t.safetensors"), "tensor 'norm.std' has dtype 'BOOL'")


def test_format_1_without_normalization_loads(tmp_path: Path) -> None:
    pts = parts(tmp_path, FIXTURES / "model.safetensors")
    del pts.tensors["norm.mean"], pts.tensors["norm.std"]
    art = artifact.load(pts.write(tmp_path / "t.safetensors"))
    assert art.preprocessor.normalize == "none"


def test_safetensors_bytes_round_trip() -> None:
    raw = safetensors_bytes({"__metadata__": {"a": "b"}}, b"")
    n = int.from_bytes(raw[:8], "little")
    assert n % 8 == 0 and json.loads(raw[8 : 8 + n]) == {"__metadata__": {"a": "b"}}


@pytest.mark.parametrize(
    ("sources", "fragment"),
    [(None, "decision.sources"), (["x"], "one entry per label"), ([1, 2, 3], "decision")],
)
def test_threshold_sources(tmp_path: Path, sources: object, fragment: str) -> None:
    pts = parts(tmp_path)
    assert pts.info["decision"]["sources"] == ["decision.threshold"] * 3
    pts.info["decision"]["sources"] = sources
    expect(pts.write(tmp_path / "t.safetensors"), fragment)


@pytest.mark.parametrize(
    ("calibration", "fragment"),
    [
        ({"method": "platt", "a": [1.0, 1.0], "b": [0.0, 0.0]}, "one a and b per label"),
        ({"method": "platt", "a": [1.0, -1.0, 1.0], "b": [0.0, 0.0, 0.0]}, "positive"),
        ({"method": "temperature", "a": [1.0, 1.0, 1.0], "b": [0.0, 0.1, 0.0]}, "b = 0"),
        ({"method": "isotonic", "a": [1.0] * 3, "b": [0.0] * 3}, "method"),
    ],
)
def test_bad_calibration(tmp_path: Path, calibration: object, fragment: str) -> None:
    pts = parts(tmp_path)
    pts.info["decision"]["calibration"] = calibration
    expect(pts.write(tmp_path / "t.safetensors"), fragment)


def test_a_good_calibration_loads(tmp_path: Path) -> None:
    pts = parts(tmp_path)
    cal = {"method": "platt", "a": [0.5, 1.0, 2.0], "b": [0.1, 0.0, -0.3]}
    pts.info["decision"]["calibration"] = cal
    assert artifact.load(pts.write(tmp_path / "t.safetensors")).calibration == cal
