"""The model artifact: one `.safetensors` file, written atomically, loaded without unpickling.

Tensors: the MLP's weights under `model.*`, and the normalization statistics `norm.mean`,
`norm.std` (when the data was standardized). Metadata (safetensors' string map):
`format` = "sigmoidnet", `format_version`, and `sigmoidnet` = a JSON object with the
format version, sigmoidnet version, resolved config, feature names, label names, decision
thresholds, and the epoch and metrics the weights came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from sigmoidnet import __version__
from sigmoidnet.config import Config, config_from_dict
from sigmoidnet.errors import CheckpointError, ConfigError
from sigmoidnet.fsutil import atomic_write_bytes
from sigmoidnet.model import MLP

FORMAT = "sigmoidnet"
FORMAT_VERSION = 1


@dataclass
class Artifact:
    """A trained model and everything needed to use it."""

    model: MLP
    config: Config
    feature_names: list[str]
    label_names: list[str]
    thresholds: list[float]
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None
    epoch: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    sigmoidnet_version: str = __version__

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the stored standardization in place (x: (B, F) float32) and return x."""
        if self.mean is not None and self.std is not None:
            x.sub_(self.mean.to(x.device)).div_(self.std.to(x.device))
        return x

    def metadata(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "sigmoidnet_version": self.sigmoidnet_version,
            "config": self.config.to_dict(),
            "feature_names": self.feature_names,
            "label_names": self.label_names,
            "thresholds": self.thresholds,
            "epoch": self.epoch,
            "metrics": self.metrics,
            "architecture": {
                "input_size": self.model.input_size,
                "hidden_sizes": self.model.hidden_sizes,
                "output_size": self.model.output_size,
            },
        }


def to_bytes(art: Artifact) -> bytes:
    tensors: dict[str, torch.Tensor] = {
        f"model.{k}": v.detach().to("cpu", torch.float32).contiguous()
        for k, v in art.model.state_dict().items()
    }
    if art.mean is not None and art.std is not None:
        tensors["norm.mean"] = art.mean.detach().to("cpu", torch.float32).contiguous()
        tensors["norm.std"] = art.std.detach().to("cpu", torch.float32).contiguous()
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
        thresholds = [float(t) for t in info["thresholds"]]
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
    mean, std = tensors.get("norm.mean"), tensors.get("norm.std")
    if (mean is None) != (std is None) or (
        mean is not None
        and (mean.shape != (len(features),) or std is None or std.shape != mean.shape)
    ):
        raise CheckpointError(where, "normalization tensors are inconsistent")
    if (
        mean is not None
        and std is not None
        and not (
            bool(torch.isfinite(mean).all())
            and bool((std > 0).all())
            and bool(torch.isfinite(std).all())
        )
    ):
        raise CheckpointError(where, "normalization tensors hold non-finite or non-positive values")
    return Artifact(
        model=model,
        config=cfg,
        feature_names=features,
        label_names=labels,
        thresholds=thresholds,
        mean=mean,
        std=std,
        epoch=info.get("epoch"),
        metrics=info.get("metrics") or {},
        sigmoidnet_version=str(info.get("sigmoidnet_version", "?")),
    )
