"""Fit a trained model's decisions on its validation rows: its calibration
(`decision.calibration`: `scaling`), then its per-label thresholds (`decision.threshold` as
a rule), on the probabilities `predict` computes (the float64 sigmoid of the model's
float32 logits, calibrated), with `thresholds.tune_threshold` per label."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from sigmoidnet.activation import sigmoid_array
from sigmoidnet.calibrate.thresholds import TunedThreshold, tune_threshold
from sigmoidnet.model import predict_logits

if TYPE_CHECKING:
    from sigmoidnet.artifact import Artifact


def model_logits(art: Artifact, x_val: torch.Tensor | None, logits: Any = None) -> Any:
    """(n, L) float32 logits of the model inputs `x_val`, as `predict` computes them — or
    `logits` when given (a data-parallel run gathers its ranks' into one array)."""
    if logits is not None:
        return np.asarray(logits, dtype=np.float32)
    assert x_val is not None
    with torch.inference_mode():
        return predict_logits(art.model, x_val.to("cpu"), torch.device("cpu")).numpy()


def validation_probabilities(art: Artifact, x_val: torch.Tensor | None, logits: Any = None) -> Any:
    """(n, L) float64 probabilities of the model inputs `x_val` (or of their `logits`), as
    `predict` gives them."""
    return sigmoid_array(calibrated_logits(art, model_logits(art, x_val, logits)))


def tune_artifact(
    art: Artifact, x_val: torch.Tensor | None, y_val: torch.Tensor, rule: Any, logits: Any = None
) -> list[TunedThreshold]:
    """Tune every label's threshold on (x_val, y_val) by `rule`, and store the thresholds
    and where they came from in `art`."""
    probs = validation_probabilities(art, x_val, logits)
    y = y_val.to("cpu").numpy()
    tuned = [tune_threshold(probs[:, j], y[:, j], rule) for j in range(probs.shape[1])]
    art.thresholds = [t.threshold for t in tuned]
    art.threshold_sources = [t.source for t in tuned]
    return tuned


def calibrated_logits(art: Artifact, logits: Any) -> Any:
    """The model's logits (n, L) as float64, calibrated when the model holds a calibration
    (a·z + b per label), as they are without one."""
    z = np.asarray(logits, dtype=np.float64)
    cal = art.calibration
    if cal is None:
        return z
    from sigmoidnet.calibrate.scaling import apply

    return apply(z, cal["a"], cal["b"])


def calibrate_artifact(
    art: Artifact, x_val: torch.Tensor | None, y_val: torch.Tensor, method: str, logits: Any = None
) -> list[str | None]:
    """Fit `method` per label on the validation rows' logits and store it in `art`; a
    note per label (None where it was fitted)."""
    from sigmoidnet.calibrate.scaling import fit

    art.calibration = None
    z = model_logits(art, x_val, logits).astype(np.float64)
    y = y_val.to("cpu").numpy()
    fitted = [fit(method, z[:, j], y[:, j]) for j in range(z.shape[1])]
    art.calibration = {
        "method": method,
        "a": [f.a for f in fitted],
        "b": [f.b for f in fitted],
    }
    return [f.note for f in fitted]
