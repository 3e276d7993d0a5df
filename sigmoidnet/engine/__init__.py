"""sigmoidnet.engine: training.

- `setup.py`: `prepare(cfg)` → `Setup` (device, seeds, data, model, loss, optimizer), all
  checked before anything is written;
- `trainer.py`: the `Trainer` — the epoch loop, with its state in `state_dict()`;
- `steps.py`: the autograd step and `choose_step`, the one place that picks the step;
- `manual_step.py`: the hand-derived step; `direct_adam.py`: fused Adam without
  `Optimizer.step`; `precision.py`: autocast and the grad scaler.
"""

from sigmoidnet.engine.setup import Setup, pos_weight_tensor, prepare, resolve_device
from sigmoidnet.engine.trainer import FitResult, NullSink, RunSink, Trainer, fit, make_artifact

__all__ = [
    "FitResult",
    "NullSink",
    "RunSink",
    "Setup",
    "Trainer",
    "fit",
    "make_artifact",
    "pos_weight_tensor",
    "prepare",
    "resolve_device",
]
