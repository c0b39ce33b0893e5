"""diagnose() on the architectures people use: every one runs and gives sensible per-layer records.

Each case is a row: the model, its input, and the rows the probe must find (module type and the
activation folded into it) in forward order. Adding a row covers an architecture everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import pytest
import torch
from torch import nn

import initopt.init as ii
from initopt.doctor import Verdict, diagnose
from initopt.models import CNN1d, mlp


class ResidualMLP(nn.Module):
    def __init__(self, width: int = 32, blocks: int = 3) -> None:
        super().__init__()
        self.stem = nn.Linear(12, width)
        self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width)) for _ in range(blocks))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = h + block(h)
        return self.head(self.norm(h))


class BasicBlock(nn.Module):
    """torchvision's ResNet block: one ReLU module used twice, the second time after the sum."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        self.conv2, self.bn2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + x)


class TokenClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16, padding_idx=0)
        self.encoder = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.1, batch_first=True)
        self.head = nn.Linear(16, 4)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens)).mean(dim=1))


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], nn.Module]
    inputs: Callable[[], torch.Tensor]
    rows: list[tuple[str, str | None]]  # (module type, folded activation)


CASES = [
    Case("mlp", lambda: mlp(10, [32, 16], 2, "tanh"), lambda: torch.randn(64, 10, generator=_gen()),
         [("Linear", "Tanh"), ("Linear", "Tanh"), ("Linear", None)]),
    Case("cnn2d_batchnorm",
         lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5)),
         lambda: torch.randn(16, 3, 8, 8, generator=_gen()),
         [("Conv2d", None), ("BatchNorm2d", "ReLU"), ("Conv2d", None), ("BatchNorm2d", "ReLU"), ("Linear", None)]),
    Case("cnn1d", lambda: CNN1d(40, 10), lambda: torch.randn(32, 40, generator=_gen()),
         [("Conv1d", "ReLU"), ("Conv1d", "ReLU"), ("Conv1d", "ReLU"), ("Linear", None)]),
    Case("resnet_basic_block", lambda: nn.Sequential(BasicBlock(8), BasicBlock(8)), lambda: torch.randn(8, 8, 6, 6, generator=_gen()),
         [("Conv2d", None), ("BatchNorm2d", "ReLU"), ("Conv2d", None), ("BatchNorm2d", None), ("ReLU", None)] * 2),
    Case("residual_mlp_layernorm", ResidualMLP, lambda: torch.randn(64, 12, generator=_gen()),
         [("Linear", None)] + [("Linear", "ReLU"), ("Linear", None)] * 3 + [("LayerNorm", None), ("Linear", None)]),
    Case("embedding_transformer", TokenClassifier, lambda: torch.randint(0, 50, (8, 12), generator=_gen()),
         [("Embedding", None), ("MultiheadAttention", None), ("LayerNorm", None), ("Linear", None), ("Linear", None),
          ("LayerNorm", None), ("Linear", None)]),
    Case("transformer_encoder_layer",
         lambda: nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, norm_first=True),
         lambda: torch.randn(4, 10, 16, generator=_gen()),
         [("LayerNorm", None), ("MultiheadAttention", None), ("LayerNorm", None), ("Linear", None), ("Linear", None)]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_runs_and_records_every_layer(case: Case):
    torch.manual_seed(0)
    model = case.build()
    x = case.inputs()
    diagnosis = diagnose(model, x)
    assert [(item.layer.module_type, item.layer.activation) for item in diagnosis.layers] == case.rows
    assert [item.layer.index for item in diagnosis.layers] == list(range(1, len(case.rows) + 1))
    names = dict(model.named_modules())
    for item in diagnosis.layers:
        layer = item.layer
        assert layer.name in names and type(names[layer.name]).__name__ == layer.module_type
        assert layer.output_shape[0] == x.shape[0]
        assert math.isfinite(layer.act.std) and layer.act.std > 0 and layer.act.max_abs >= layer.act.std
        assert layer.output_grad_std is not None and layer.output_grad_std > 0
        if layer.weight is not None:
            assert layer.weight.grad_std is not None and layer.weight.grad_std > 0
            if layer.weight.fan_in is not None:  # matrices: targets and symmetry; norm scales have none
                assert layer.weight.he_std > 0 and layer.weight.xavier_std > 0
                assert layer.weight.symmetry == 0.0 and layer.weight.symmetry_kept == 0.0
    # PyTorch's default init on these small models is not pathological
    assert diagnosis.verdict is Verdict.HEALTHY, diagnosis
    assert diagnosis.layers[-1].layer.is_output == (case.name != "transformer_encoder_layer")  # pre-LN: a sum comes last


def test_conv_units_are_channels():
    conv = nn.Conv2d(3, 8, 3)
    with torch.no_grad():
        conv.bias[:6] = -1e3  # six of eight channels can never fire
    diagnosis = diagnose(nn.Sequential(conv, nn.ReLU()), torch.randn(4, 3, 6, 6))
    assert diagnosis.layers[0].layer.dead_fraction == pytest.approx(6 / 8)
    assert diagnosis.layers[0].verdict is Verdict.DEAD


def test_attention_weight_is_the_input_projection():
    layer = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True)
    attention = next(item.layer for item in diagnose(layer, torch.randn(2, 5, 16)).layers if item.layer.module_type == "MultiheadAttention")
    assert attention.weight.parameter == "in_proj_weight" and attention.weight.shape == (48, 16)
    assert attention.description == "MultiheadAttention 16, 4 heads"


def test_integer_inputs_and_zero_embeddings():
    model = TokenClassifier()
    ii.initialize(model, "zeros", rules={nn.Embedding: "normal"}, seed=0)
    diagnosis = diagnose(model, torch.randint(1, 50, (8, 12)))
    assert diagnosis.input_std is None
    assert diagnosis.verdict is Verdict.SYMMETRIC


def test_an_embedding_s_units_are_its_columns_not_its_rows():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(100, 8), nn.Flatten(), nn.Linear(8 * 4, 1))
    nn.init.zeros_(model[0].weight)  # most rows unseen by the batch: identical zero rows and zero gradients
    tokens = torch.randint(0, 10, (16, 4))
    diagnosis = diagnose(model, tokens, torch.rand(16, 1), "mse")
    embedding = diagnosis.layers[0]
    # the 8 columns start equal, but the Linear behind them gives each its own gradient; no fan targets
    assert embedding.layer.weight.symmetry == 1.0 and embedding.layer.weight.symmetry_kept == 0.0
    assert embedding.verdict is not Verdict.SYMMETRIC and embedding.layer.weight.he_std is None


def _built(name: str, dataset: str, scheme: str, **options) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    from initopt import data
    from initopt.models import build_model

    train = data.load(dataset).train
    info = train.info
    model = build_model(name, n_features=info.n_features, out=info.output_dim, input_shape=info.input_shape,
                        dataset=info, **options)
    ii.initialize(model, scheme, seed=0)
    return model, train.x[:128], train.y[:128]


def test_zero_factor_tables_of_matrix_factorization_are_symmetric():
    # p_u = q_i = 0: each table's gradient is the other table, 0, so no factor can ever move
    model, x, y = _built("mf", "synthetic-ratings", "zeros", dim=8)
    diagnosis = diagnose(model, x, y, "mse")
    assert [item.verdict for item in diagnosis.layers[:2]] == [Verdict.SYMMETRIC] * 2
    assert diagnosis.suggestions[0].startswith("layer 1 (Embedding 300x8): 100% of its 8 units have identical")
    assert diagnosis.suggestions[0].endswith("use gpt2 (random weights break the symmetry; zeros are fine for biases)")
    assert diagnose(_built("mf", "synthetic-ratings", "gpt2", dim=8)[0], x, y, "mse").healthy


def test_gpt2_residual_projections_are_small_by_design_not_vanishing():
    # 0.02 / sqrt(12) on a 64-wide stream: the branch ends output ~0.006, below the 1/100 ratio
    model, x, y = _built("transformer", "modular-addition", "gpt2", layers=6)
    diagnosis = diagnose(model, x, y, "cross_entropy")
    residual = [item.layer for item in diagnosis.layers if item.layer.residual]
    assert len(residual) == 12 and all(layer.act.std < 0.01 for layer in residual)
    assert diagnosis.healthy, diagnosis
