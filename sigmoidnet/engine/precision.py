"""`train.precision`: the autocast context and, for fp16 on CUDA, the grad scaler."""

from __future__ import annotations

import contextlib
from typing import Any

import torch


class Precision:
    """Autocast context and grad scaler for `train.precision` (fp32 = neither)."""

    def __init__(self, precision: str, device: torch.device) -> None:
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.device_type = device.type
        self.scaler = (
            torch.amp.GradScaler(device.type)
            if precision == "fp16" and device.type == "cuda"
            else None
        )

    def autocast(self) -> Any:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)
