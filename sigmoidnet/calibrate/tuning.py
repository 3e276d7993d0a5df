"""Tune a trained model's per-label thresholds on its validation rows (`decision.threshold`
as a rule): the probabilities are computed as `predict` computes them (the float64 sigmoid
of the model's float32 logits), then `thresholds.tune_threshold` runs per label."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from sigmoidnet.activation import sigmoid_array
from sigmoidnet.calibrate.thresholds import TunedThreshold, tune_threshold
from sigmoidnet.model import predict_logits

if TYPE_CHECKING:
    from sigmoidnet.artifact import Artifact


def validation_probabilities(art: Artifact, x_val: torch.Tensor) -> Any:
    """(n, L) float64 probabilities of the model inputs `x_val`, as `predict` gives them."""
    with torch.inference_mode():
        logits = predict_logits(art.model, x_val.to("cpu"), torch.device("cpu"))
    return sigmoid_array(logits.numpy().astype(np.float64))


def tune_artifact(
    art: Artifact, x_val: torch.Tensor, y_val: torch.Tensor, rule: Any
) -> list[TunedThreshold]:
    """Tune every label's threshold on (x_val, y_val) by `rule`, and store the thresholds
    and where they came from in `art`."""
    probs = validation_probabilities(art, x_val)
    y = y_val.to("cpu").numpy()
    tuned = [tune_threshold(probs[:, j], y[:, j], rule) for j in range(probs.shape[1])]
    art.thresholds = [t.threshold for t in tuned]
    art.threshold_sources = [t.source for t in tuned]
    return tuned
