"""param_groups: biases, norm weights and (optionally) embeddings go without decay."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from initopt.optim import AdamW, param_groups


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.lin = nn.Linear(4, 8)
        self.ln = nn.LayerNorm(8)
        self.bn = nn.BatchNorm1d(8)
        self.head = nn.Linear(8, 3, bias=False)
        self.frozen = nn.Linear(3, 3)
        self.frozen.requires_grad_(False)
        self.out = nn.Linear(4, 10, bias=False)
        self.out.weight = self.emb.weight  # tied: must appear once
        self.rms_norm_scale = nn.Parameter(torch.ones(8))  # a custom norm, found by name


def _names(model: nn.Module, group: dict) -> set[str]:
    ids = {id(p) for p in group["params"]}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def test_split() -> None:
    model = Net()
    decay, keep = param_groups(model, weight_decay=0.1)
    assert decay["weight_decay"] == 0.1 and keep["weight_decay"] == 0.0
    assert _names(model, decay) == {"emb.weight", "lin.weight", "head.weight"}
    assert _names(model, keep) == {
        "lin.bias", "ln.weight", "ln.bias", "bn.weight", "bn.bias", "rms_norm_scale",
    }  # fmt: skip


def test_every_trainable_parameter_exactly_once() -> None:
    model = Net()
    groups = param_groups(model, weight_decay=0.1)
    listed = [id(p) for g in groups for p in g["params"]]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]  # deduplicated by torch
    assert sorted(listed) == sorted(trainable) and len(listed) == len(set(listed))
    AdamW(groups, lr=1e-3)  # torch's check: no parameter in two groups


def test_embeddings_without_decay() -> None:
    model = Net()
    decay, keep = param_groups(model, 0.1, embeddings_decay=False)
    assert "emb.weight" in _names(model, keep) and "emb.weight" not in _names(model, decay)


def test_norm_layers_by_type_even_without_name_patterns() -> None:
    model = Net()
    decay, keep = param_groups(model, 0.1, no_decay=())
    assert _names(model, keep) == {"ln.weight", "ln.bias", "bn.weight", "bn.bias"}
    assert "lin.bias" in _names(model, decay)


@pytest.mark.parametrize("norm", [nn.GroupNorm(2, 4), nn.InstanceNorm1d(4, affine=True), nn.RMSNorm(4)])
def test_other_norm_types(norm: nn.Module) -> None:
    model = nn.Sequential(nn.Linear(4, 4, bias=False), norm)
    decay, keep = param_groups(model, 0.1)
    assert _names(model, decay) == {"0.weight"}
    assert len(keep["params"]) == len(list(norm.parameters()))


def test_empty_group_dropped() -> None:
    groups = param_groups(nn.Linear(3, 3, bias=False), 0.1)
    assert len(groups) == 1 and groups[0]["weight_decay"] == 0.1
    groups = param_groups(nn.LayerNorm(3), 0.1)
    assert len(groups) == 1 and groups[0]["weight_decay"] == 0.0


def test_negative_weight_decay_rejected() -> None:
    with pytest.raises(ValueError, match="^Invalid weight_decay value: -0.1$"):
        param_groups(nn.Linear(2, 2), -0.1)
