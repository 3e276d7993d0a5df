"""The MLP. No I/O: built from sizes, returns logits; the Sigmoid is applied at inference.

Layer creation order is the tutorial's (fc1, then fc2, ...), so with the same seed the
initial weights are the tutorial's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
}


class MLP(nn.Module):
    """input → [Linear → activation → Dropout] × len(hidden_sizes) → Linear → logits.

    `hidden_sizes=[]` is logistic regression. `forward` returns logits (B, output_size);
    `predict_proba` applies the Sigmoid.
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes: Sequence[int],
        output_size: int,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}")
        self.input_size = input_size
        self.hidden_sizes = list(hidden_sizes)
        self.output_size = output_size
        layers: list[nn.Module] = []
        width = input_size
        for h in self.hidden_sizes:
            layers.append(nn.Linear(width, h))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, output_size))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, input_size) → (B, output_size) logits
        out: torch.Tensor = self.net(x)
        return out

    @torch.inference_mode()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.forward(x))


#: rows per forward pass when scoring many rows. Every scoring of the same rows cuts them into
#: the same chunks (a data-parallel run hands whole chunks to its ranks), so a row's logits
#: are the same bits wherever they are computed: a matmul's rounding may depend on its size.
EVAL_CHUNK = 1 << 12
EVAL_ACTIVATION_VALUES = 1 << 26  # at most this many float32 activations per chunk (256 MB)


def eval_chunk_rows(input_size: int, hidden_sizes: Sequence[int], output_size: int) -> int:
    """Rows per forward pass: `EVAL_CHUNK`, fewer for wide models, so that a chunk's
    activations stay within `EVAL_ACTIVATION_VALUES` (a 100,000-unit layer: 671 rows)."""
    width = input_size + sum(hidden_sizes) + output_size
    return max(1, min(EVAL_CHUNK, EVAL_ACTIVATION_VALUES // max(width, 1)))


@torch.inference_mode()
def predict_logits(model: nn.Module, x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Logits for every row, in chunks: (N, F) → (N, L) float32 on `device`."""
    model.eval()
    step = EVAL_CHUNK
    if isinstance(model, MLP):
        step = eval_chunk_rows(model.input_size, model.hidden_sizes, model.output_size)
    # no rows: one empty chunk, (0, L)
    outs = [model(x[i : i + step].to(device)) for i in range(0, max(1, x.shape[0]), step)]
    return torch.cat(outs).float()
