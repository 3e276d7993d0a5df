"""Setup: everything the loop needs, built and checked before anything is written —
device, seeds, data, model, loss and optimizer, in the tutorial's order (seed → data →
layers, so that the same seed gives the tutorial's weights)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sigmoidnet.config import Config
from sigmoidnet.data import Dataset, load_dataset
from sigmoidnet.data.messages import plural
from sigmoidnet.errors import DataError, UsageError
from sigmoidnet.model import MLP


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """`auto` → cuda if available, else mps, else cpu; an unavailable device is exit 2."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError("device", f"'{name}' requested but CUDA is not available here")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise UsageError(
                "device", f"'{name}' requested but only {torch.cuda.device_count()} GPU(s) exist"
            )
        return torch.device(name)
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UsageError("device", "'mps' requested but MPS is not available here")
        return torch.device("mps")
    return torch.device("cpu")


def make_optimizer(model: nn.Module, cfg: Config, device: torch.device) -> torch.optim.Optimizer:
    t = cfg.train
    params = model.parameters()
    # fused kernels: one op per step for all parameters (CPU and CUDA)
    fused = device.type in ("cpu", "cuda")
    if t.optimizer == "adam":
        return torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay, fused=fused)
    if t.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay, fused=fused)
    return torch.optim.SGD(
        params, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay, fused=fused
    )


def pos_weight_tensor(cfg: Config, y_train: torch.Tensor) -> torch.Tensor | None:
    """`auto` = negatives/positives per label on the training split (1 where no positives)."""
    pw = cfg.train.pos_weight
    if pw is None:
        return None
    if pw == "auto":
        pos = y_train.sum(dim=0, dtype=torch.float64)
        neg = y_train.shape[0] - pos
        w = torch.where(pos > 0, neg / pos.clamp(min=1), torch.ones_like(pos))
        return w.to(torch.float32)
    if len(pw) != y_train.shape[1]:
        raise DataError(
            "train.pos_weight",
            f"{len(pw)} values given but the data has {y_train.shape[1]} label(s)",
        )
    return torch.tensor(pw, dtype=torch.float32)


def model_size_check(cfg: Config) -> Callable[[int, int, str], None]:
    """The data's sizes against `model.input_size` / `model.output_size`, when given."""
    m = cfg.model

    def check(n_features: int, n_labels: int, where: str) -> None:
        if m.input_size is not None and m.input_size != n_features:
            raise DataError(
                where,
                f"model.input_size is {m.input_size} but the data has "
                f"{plural(n_features, 'feature')}",
            )
        if m.output_size is not None and m.output_size != n_labels:
            raise DataError(
                where,
                f"model.output_size is {m.output_size} but the data has "
                f"{plural(n_labels, 'label')}",
            )

    return check


@dataclass
class Setup:
    """Everything the `Trainer` needs, all validated: nothing has been written yet."""

    cfg: Config
    device: torch.device
    data: Dataset
    model: MLP
    optimizer: torch.optim.Optimizer
    loss_fn: nn.BCEWithLogitsLoss
    x_train: torch.Tensor  # (N, F) on device (or pinned host memory when it does not fit)
    y_train: torch.Tensor  # (N, L)
    x_val: torch.Tensor | None
    y_val: torch.Tensor | None
    on_device: bool = True
    allow_manual: bool = True  # the hand-derived train step where it applies (else autograd)


def _fits_on_device(device: torch.device, nbytes: int) -> bool:
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    # room for the data, one shuffled copy of it, and the model's working memory
    return 2.5 * nbytes < free


def prepare(cfg: Config, device: str | None = None) -> Setup:
    """Seed, load and check the data, build the model and optimizer (the tutorial's order:
    seed → data → layers)."""
    dev = resolve_device(device or cfg.device)
    seed_everything(cfg.seed)
    data = load_dataset(cfg.data, cfg.seed, model_size_check(cfg))
    n_features, n_labels = data.x_train.shape[1], data.y_train.shape[1]
    m = cfg.model
    model = MLP(n_features, m.hidden_sizes, n_labels, m.activation, m.dropout)
    model.to(dev)
    pw = pos_weight_tensor(cfg, data.y_train)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=None if pw is None else pw.to(dev))

    nbytes = data.x_train.nbytes + data.y_train.nbytes
    on_device = _fits_on_device(dev, nbytes)
    if on_device:
        x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)
    else:  # stream batches from pinned host memory
        x_train, y_train = data.x_train.pin_memory(), data.y_train.pin_memory()
    x_val = data.x_val.to(dev) if data.x_val is not None and on_device else data.x_val
    y_val = data.y_val.to(dev) if data.y_val is not None and on_device else data.y_val
    optimizer = make_optimizer(model, cfg, dev)
    return Setup(
        cfg, dev, data, model, optimizer, loss_fn, x_train, y_train, x_val, y_val, on_device
    )
