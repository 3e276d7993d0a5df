"""Decisions fitted after training on the validation rows: per-label thresholds
(`thresholds`: the search; `tuning`: applied to a trained model)."""

from sigmoidnet.calibrate.thresholds import TunedThreshold, tune_threshold

__all__ = ["TunedThreshold", "tune_threshold"]
