from __future__ import annotations

import pytest
import torch
from torch import nn

from sigmoidnet.model import ACTIVATIONS, MLP


@pytest.mark.parametrize("hidden", [[], [8], [16, 8], [32, 16, 8, 4]])
def test_shapes_for_several_depths(hidden: list[int]) -> None:
    model = MLP(5, hidden, 3)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == len(hidden) + 1
    assert [lin.in_features for lin in linears] == [5, *hidden]
    assert [lin.out_features for lin in linears] == [*hidden, 3]
    x = torch.randn(7, 5)
    assert model(x).shape == (7, 3)
    p = model.predict_proba(x)
    assert p.shape == (7, 3)
    assert torch.all((p >= 0) & (p <= 1))
    torch.testing.assert_close(p, torch.sigmoid(model(x)))


def test_empty_hidden_is_logistic_regression() -> None:
    model = MLP(4, [], 1)
    assert len(list(model.parameters())) == 2  # one weight matrix, one bias


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations(name: str) -> None:
    model = MLP(3, [4], 2, activation=name)
    assert any(isinstance(m, ACTIVATIONS[name]) for m in model.modules())


def test_dropout_only_in_training() -> None:
    torch.manual_seed(0)
    model = MLP(10, [64], 1, dropout=0.5)
    x = torch.randn(4, 10)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_init_order_is_the_tutorials() -> None:
    torch.manual_seed(3)
    fc1, fc2 = nn.Linear(64, 128), nn.Linear(128, 2)
    torch.manual_seed(3)
    model = MLP(64, [128], 2)
    torch.testing.assert_close(model.net[0].weight, fc1.weight)
    torch.testing.assert_close(model.net[2].bias, fc2.bias)


def test_unknown_activation() -> None:
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(2, [2], 1, activation="swish2")


def test_wide_models_score_in_smaller_chunks() -> None:
    from sigmoidnet.model import EVAL_CHUNK, eval_chunk_rows, predict_logits

    assert eval_chunk_rows(64, [128], 2) == EVAL_CHUNK
    assert eval_chunk_rows(5, [100_000], 3) == (1 << 26) // 100_008
    assert eval_chunk_rows(1, [2**30], 1) == 1
    torch.manual_seed(0)
    model = MLP(3, [5], 2)
    x = torch.randn(10, 3)
    torch.testing.assert_close(predict_logits(model, x, torch.device("cpu")), model(x))
