"""The model artifact: one `.safetensors` file, written atomically, loaded without unpickling.

Format 2 (written now). Tensors: the MLP's weights under `model.*`, and the fitted
preprocessor's arrays under `preprocess.*` (`preprocess.mean`, `preprocess.std` when the data
was standardized). Metadata (safetensors' string map): `format` = "sigmoidnet",
`format_version`, and `sigmoidnet` = a JSON object with the format version, sigmoidnet
version, resolved config, feature and label names, `architecture`, `preprocessor` (the
preprocessor's own description), `decision` (per-label `thresholds`, and `calibration`:
null until calibration is fitted), `heldout` (which rows were held out, with their
fingerprint: `sigmoidnet.data.HeldOut`; null without validation rows), and the epoch and
metrics the weights came from.

Format 1 (the first release) still loads: tensors `norm.mean`/`norm.std` and top-level
`thresholds`; it has no held-out record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from sigmoidnet import __version__
from sigmoidnet.config import Config, config_from_dict
from sigmoidnet.errors import CheckpointError, ConfigError
from sigmoidnet.fsutil import atomic_write_bytes
from sigmoidnet.model import MLP
from sigmoidnet.preprocess import Preprocessor, PreprocessorStateError

FORMAT = "sigmoidnet"
FORMAT_VERSION = 2


@dataclass
class Artifact:
    """A trained model and everything needed to use it."""

    model: MLP
    config: Config
    feature_names: list[str]
    label_names: list[str]
    thresholds: list[float]
    preprocessor: Preprocessor
    heldout: dict[str, Any] | None = None  # `sigmoidnet.data.HeldOut.to_dict()`
    calibration: dict[str, Any] | None = None  # fitted calibration (none yet)
    epoch: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    sigmoidnet_version: str = __version__
    format_version: int = FORMAT_VERSION  # of the file it was loaded from

    def metadata(self) -> dict[str, Any]:
        pre_meta, _ = self.preprocessor.state()
        return {
            "format_version": FORMAT_VERSION,
            "sigmoidnet_version": self.sigmoidnet_version,
            "config": self.config.to_dict(),
            "feature_names": self.feature_names,
            "label_names": self.label_names,
            "architecture": {
                "input_size": self.model.input_size,
                "hidden_sizes": self.model.hidden_sizes,
                "output_size": self.model.output_size,
            },
            "preprocessor": pre_meta,
            "decision": {"thresholds": self.thresholds, "calibration": self.calibration},
            "heldout": self.heldout,
            "epoch": self.epoch,
            "metrics": self.metrics,
        }


def to_bytes(art: Artifact) -> bytes:
    tensors: dict[str, torch.Tensor] = {
        f"model.{k}": v.detach().to("cpu", torch.float32).contiguous()
        for k, v in art.model.state_dict().items()
    }
    _, arrays = art.preprocessor.state()
    for name, arr in arrays.items():
        tensors[f"preprocess.{name}"] = torch.from_numpy(np.ascontiguousarray(arr, np.float32))
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "sigmoidnet": json.dumps(art.metadata(), allow_nan=False),
    }
    data: bytes = st_save(tensors, metadata=meta)
    return data


def save(art: Artifact, path: str | Path) -> None:
    """Write the artifact atomically (temporary name in the same folder, then rename)."""
    atomic_write_bytes(Path(path), to_bytes(art))


def _read_header(raw: bytes, where: str) -> dict[str, Any]:
    # safetensors layout: 8-byte little-endian header length, then a JSON header
    if len(raw) < 8:
        raise CheckpointError(where, "not a safetensors file (too short)")
    n = int.from_bytes(raw[:8], "little")
    if n <= 0 or 8 + n > len(raw):
        raise CheckpointError(where, "not a safetensors file, or truncated (bad header length)")
    try:
        header = json.loads(raw[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(where, "not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(where, "not a safetensors file (header is not a JSON object)")
    return header


def load(path: str | Path) -> Artifact:
    """Load an artifact; every problem is a one-line `CheckpointError` (exit 4)."""
    where = str(path)
    p = Path(path)
    if p.is_dir():
        raise CheckpointError(where, "is a directory, expected a .safetensors model file")
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(where, "no such file") from None
    except OSError as e:
        raise CheckpointError(where, f"cannot read: {e.strerror or e}") from None

    header = _read_header(raw, where)
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "sigmoidnet" not in meta:
        raise CheckpointError(where, "a safetensors file, but not a sigmoidnet model (no metadata)")
    try:
        version = int(meta.get("format_version", "0"))
    except ValueError:
        raise CheckpointError(where, "bad format_version in metadata") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(
            where,
            f"model format version {version} is newer than this sigmoidnet ({__version__}) "
            f"reads (up to {FORMAT_VERSION}); upgrade sigmoidnet",
        )
    if version < 1:
        raise CheckpointError(where, f"bad format_version {version} in metadata")
    try:
        tensors = st_load(raw)
    except (SafetensorError, ValueError, RuntimeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(where, f"corrupt or truncated safetensors data ({msg})") from None

    try:
        info = json.loads(meta["sigmoidnet"])
        cfg = config_from_dict(info["config"], f"{where} (metadata config)")
        arch = info["architecture"]
        features = [str(n) for n in info["feature_names"]]
        labels = [str(n) for n in info["label_names"]]
        if version == 1:
            thresholds = [float(t) for t in info["thresholds"]]
            calibration = None
            heldout = None
        else:
            decision = info["decision"]
            thresholds = [float(t) for t in decision["thresholds"]]
            calibration = decision.get("calibration")
            heldout = info.get("heldout")
            if heldout is not None and not isinstance(heldout, dict):
                raise TypeError("heldout must be an object")
    except ConfigError as e:
        raise CheckpointError(where, f"bad config in metadata: {e.what}") from None
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as e:
        raise CheckpointError(where, f"bad sigmoidnet metadata ({type(e).__name__}: {e})") from None
    if len(labels) != arch["output_size"] or len(thresholds) != len(labels):
        raise CheckpointError(where, "metadata label names/thresholds disagree with the model")
    if len(features) != arch["input_size"]:
        raise CheckpointError(where, "metadata feature names disagree with the model input size")

    model = MLP(
        arch["input_size"],
        arch["hidden_sizes"],
        arch["output_size"],
        cfg.model.activation,
        cfg.model.dropout,
    )
    state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        detail = " ".join(str(e).split())
        detail = detail.replace("Error(s) in loading state_dict for MLP: ", "")[:300]
        raise CheckpointError(
            where, f"weights do not match the model in metadata: {detail}"
        ) from None
    model.eval()
    preprocessor = _load_preprocessor(version, info, tensors, features, where)
    return Artifact(
        model=model,
        config=cfg,
        feature_names=features,
        label_names=labels,
        thresholds=thresholds,
        preprocessor=preprocessor,
        heldout=heldout,
        calibration=calibration,
        epoch=info.get("epoch"),
        metrics=info.get("metrics") or {},
        sigmoidnet_version=str(info.get("sigmoidnet_version", "?")),
        format_version=version,
    )


def _load_preprocessor(
    version: int,
    info: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    features: list[str],
    where: str,
) -> Preprocessor:
    """Format 2: the preprocessor's own state; format 1: `norm.mean`/`norm.std` (standard
    normalization when present, none otherwise)."""
    if version == 1:
        prefix = "norm."
        has = "norm.mean" in tensors or "norm.std" in tensors
        meta: dict[str, Any] = {
            "feature_names": features,
            "normalize": "standard" if has else "none",
        }
    else:
        prefix = "preprocess."
        meta = info.get("preprocessor")  # type: ignore[assignment]
        if not isinstance(meta, dict):
            raise CheckpointError(where, "bad sigmoidnet metadata (no preprocessor)")
        if meta.get("feature_names") != features:
            raise CheckpointError(where, "preprocessor feature names disagree with the model")
    arrays = {k[len(prefix) :]: v.numpy() for k, v in tensors.items() if k.startswith(prefix)}
    try:
        return Preprocessor.from_state(meta, arrays)
    except PreprocessorStateError as e:
        raise CheckpointError(where, str(e)) from None
