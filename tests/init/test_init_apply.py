"""initialize(): defaults per layer kind, rules, seeds and the summary."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

import initopt.init as ii


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(100, 200), nn.ReLU(), nn.Linear(200, 300), nn.ReLU(), nn.Linear(300, 10))


def cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 16, 3),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 5, groups=2),
        nn.BatchNorm2d(32),
        nn.Flatten(),
        nn.Linear(32, 10),
    )


class TinyLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 32, padding_idx=0)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, batch_first=True) for _ in range(2)
        )
        self.norm = nn.LayerNorm(32)
        self.head = nn.Linear(32, 50)


def _scramble(model: nn.Module) -> None:
    """Fill every parameter with 7 so that untouched ones are visible."""
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(7.0)


def _f(tensor: torch.Tensor) -> float:
    return float(tensor.detach())


def _row(summary: ii.InitSummary, layer: str, parameter: str) -> ii.InitRecord:
    (row,) = [r for r in summary.rows if r.layer == layer and r.parameter == parameter]
    return row


def test_mlp_defaults_he_normal_weights_zero_biases() -> None:
    model = mlp()
    _scramble(model)
    summary = ii.initialize(model, seed=0)
    assert len(summary) == 6 and not summary.skipped
    for index, fan_in in ((0, 100), (2, 200), (4, 300)):
        weight = _row(summary, str(index), "weight")
        assert (weight.fan_in, weight.expected_std) == (fan_in, pytest.approx(math.sqrt(2 / fan_in)))
        assert weight.actual_std == pytest.approx(weight.expected_std, rel=0.1)
        assert weight.scheme == "he_normal(mode='fan_in', nonlinearity='relu')" and weight.rule is None
        assert torch.count_nonzero(model[index].bias) == 0
        assert _row(summary, str(index), "bias").fan_in == fan_in  # a bias gets its layer's fans


def test_seeded_draws_equal_torch_in_module_order() -> None:
    model = mlp()
    ii.initialize(model, "he_normal", seed=0)
    generator = torch.Generator().manual_seed(0)
    for index in (0, 2, 4):
        expected = nn.init.kaiming_normal_(
            torch.empty_like(model[index].weight), nonlinearity="relu", generator=generator
        )
        assert torch.equal(model[index].weight, expected)


def test_bias_scheme_uses_the_layer_fans() -> None:
    model = nn.Linear(100, 4000)
    ii.initialize(model, bias="he_uniform", seed=0)
    bound = math.sqrt(6 / 100)  # fan_in of the layer, not the bias length (4000)
    assert _f(model.bias.abs().max()) <= bound and _f(model.bias.abs().max()) > 0.95 * bound


def test_cnn_with_batchnorm() -> None:
    model = cnn()
    _scramble(model)
    summary = ii.initialize(model, "xavier_uniform", seed=1)
    conv = _row(summary, "3", "weight")
    assert (conv.fan_in, conv.fan_out) == (8 * 25, 32 * 25)  # groups=2: 16/2 input channels
    assert conv.expected_std == pytest.approx(math.sqrt(2 / (200 + 800)))
    assert _f(model[3].weight.abs().max()) <= math.sqrt(6 / 1000)
    for index in (1, 4):
        assert torch.all(model[index].weight == 1) and torch.all(model[index].bias == 0)
        assert _row(summary, str(index), "weight").scheme == "constant(value=1.0)"
        assert _row(summary, str(index), "bias").fan_in is None


@pytest.mark.parametrize(
    "norm",
    [nn.BatchNorm1d(8), nn.InstanceNorm2d(8, affine=True), nn.LayerNorm(8), nn.GroupNorm(2, 8), nn.RMSNorm(8)],
    ids=lambda m: type(m).__name__,
)
def test_norm_layers_get_weight_one_bias_zero(norm: nn.Module) -> None:
    _scramble(norm)
    ii.initialize(nn.Sequential(nn.Linear(8, 8), norm), weights="normal", bias="normal", seed=0)
    assert torch.all(norm.weight == 1)
    if getattr(norm, "bias", None) is not None:
        assert torch.all(norm.bias == 0)


def test_embedding_padding_row_and_type_rule() -> None:
    model = TinyLM()
    summary = ii.initialize(model, seed=0, rules={nn.Embedding: ii.get("normal", std=0.02)})
    assert torch.count_nonzero(model.embed.weight[0]) == 0
    assert torch.count_nonzero(model.embed.weight[1:]) == model.embed.weight[1:].numel()
    assert _f(model.embed.weight[1:].std()) == pytest.approx(0.02, rel=0.1)
    row = _row(summary, "embed", "weight")
    assert (row.scheme, row.rule) == ("normal(mean=0.0, std=0.02)", "Embedding")


def test_transformer_layer_attention_parameters() -> None:
    model = TinyLM()
    _scramble(model)
    summary = ii.initialize(model, "he_normal", "he_uniform", seed=0)
    assert not summary.skipped
    for p in model.parameters():
        assert not torch.all(p == 7.0)  # everything was touched
    attention = model.layers[0].self_attn
    in_proj = _row(summary, "layers.0.self_attn", "in_proj_weight")
    assert (in_proj.shape, in_proj.fan_in, in_proj.fan_out) == ((96, 32), 32, 96)
    assert _f(attention.in_proj_weight.std()) == pytest.approx(math.sqrt(2 / 32), rel=0.1)
    bias = _row(summary, "layers.0.self_attn", "in_proj_bias")
    assert (bias.fan_in, bias.fan_out) == (32, 96)  # the fans of in_proj_weight
    assert _f(attention.in_proj_bias.abs().max()) <= math.sqrt(6 / 32)
    assert _row(summary, "layers.0.self_attn.out_proj", "weight").module_type == "NonDynamicallyQuantizableLinear"
    assert torch.all(model.layers[0].norm1.weight == 1) and torch.all(model.norm.bias == 0)


def test_rules_by_glob_last_and_order() -> None:
    model = TinyLM()
    rules = {
        "@last": "zeros",
        "*.out_proj": {"weight": "orthogonal", "bias": {"name": "constant", "value": 0.5}},
        "layers.1": ii.xavier_normal(),
        nn.Linear: "lecun_normal",  # after the globs: only layers.0.linear1/2 reach it
    }
    summary = ii.initialize(model, seed=0, rules=rules)
    assert torch.count_nonzero(model.head.weight) == 0 and _row(summary, "head", "weight").rule == "@last"
    assert torch.all(model.layers[1].self_attn.out_proj.bias == 0.5)  # first match wins over "layers.1"
    assert _row(summary, "layers.1.self_attn.out_proj", "weight").scheme == "orthogonal(gain=1.0)"
    assert _row(summary, "layers.1.linear1", "weight").scheme == "xavier_normal(gain=1.0)"
    assert _row(summary, "layers.1.self_attn", "in_proj_weight").rule == "layers.1"  # a key covers a module's insides
    assert _row(summary, "layers.0.linear2", "weight").scheme == "lecun_normal()"
    assert _row(summary, "layers.0.linear2", "bias").scheme == "zeros()"  # a plain rule value is for the weight
    # Norm layers inside a matched container keep weight 1, bias 0
    assert torch.all(model.layers[1].norm1.weight == 1) and _row(summary, "layers.1.norm1", "weight").rule is None


def test_rule_naming_a_norm_layer_directly_applies() -> None:
    model = TinyLM()
    ii.initialize(model, seed=0, rules={nn.LayerNorm: {"weight": {"name": "constant", "value": 2.0}}})
    assert torch.all(model.norm.weight == 2) and torch.all(model.norm.bias == 0)


@pytest.mark.parametrize(
    ("rules", "match"),
    [
        ({"haed": "zeros"}, r"pattern 'haed' matches no module name; did you mean 'head'"),
        ({"layers.7": "zeros"}, r"pattern 'layers.7' matches no module"),
        ({"head": "zeros", "hea*": "normal"}, r"pattern 'hea\*' matches \['head'\] but sets no parameter"),
        ({"@first": "zeros"}, r"unknown special key '@first'; valid: '@last', '@residual'"),
        ({"@residual": "zeros"}, r"'@residual' sets no parameter: the model has no residual projection"),
        ({3: "zeros"}, "a key must be a module type or a name pattern"),
        ({"head": {"weigth": "zeros"}}, r"needs 'name' \(a scheme spec\) or 'weight'/'bias' keys"),
        ({"head": "he_norml"}, "did you mean 'he_normal'"),
    ],
)
def test_bad_rules_fail_before_any_change(rules: dict, match: str) -> None:
    model = TinyLM()
    _scramble(model)
    with pytest.raises(ValueError, match=match):
        ii.initialize(model, seed=0, rules=rules)
    assert all(torch.all(p == 7.0) for p in model.parameters())


def test_last_rule_without_linear_or_conv_layers() -> None:
    with pytest.raises(ValueError, match="no Linear/Conv layer"):
        ii.initialize(nn.Sequential(nn.Embedding(4, 3)), rules={"@last": "zeros"})


def test_scheme_that_does_not_fit_a_shape_names_the_parameter() -> None:
    model = mlp()
    _scramble(model)
    with pytest.raises(ValueError, match=r"0.weight \(Linear, shape \(200, 100\)\): dirac needs"):
        ii.initialize(model, "dirac")
    assert all(torch.all(p == 7.0) for p in model.parameters())


def test_seed_is_independent_of_and_leaves_the_global_rng() -> None:
    first, second = TinyLM(), TinyLM()
    torch.manual_seed(1)
    state = torch.get_rng_state()
    ii.initialize(first, seed=123)
    assert torch.equal(torch.get_rng_state(), state)  # not consumed
    torch.manual_seed(999)
    ii.initialize(second, seed=123)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
    ii.initialize(second, seed=124)
    assert not torch.equal(first.head.weight, second.head.weight)


def test_without_seed_the_global_rng_is_used() -> None:
    first, second = mlp(), mlp()
    torch.manual_seed(5)
    ii.initialize(first)
    after = torch.get_rng_state()
    torch.manual_seed(5)
    ii.initialize(second)
    assert torch.equal(first[0].weight, second[0].weight)
    torch.manual_seed(5)
    assert not torch.equal(torch.get_rng_state(), after)  # the global RNG advanced


@pytest.mark.parametrize("seed", [True, 1.5, "0"])
def test_bad_seed(seed: object) -> None:
    with pytest.raises(ValueError, match="seed must be an int"):
        ii.initialize(mlp(), seed=seed)  # type: ignore[arg-type]


class _Odd(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.out = nn.Linear(4, 10)
        self.out.weight = self.embed.weight  # tied
        self.act = nn.PReLU()
        self.scale = nn.Parameter(torch.tensor(3.0))
        self.lazy = nn.LazyLinear(3)


def test_shared_odd_and_lazy_parameters_are_listed_as_skipped() -> None:
    model = _Odd()
    before = model.embed.weight.clone()
    summary = ii.initialize(model, "normal", seed=0)
    skipped = {(s.layer, s.parameter): s.reason for s in summary.skipped}
    assert "shared with embed.weight" in skipped[("out", "weight")]
    assert "neither a weight" in skipped[("act", "weight")] and "neither a weight" in skipped[("", "scale")]
    assert "lazy" in skipped[("lazy", "weight")]
    assert torch.count_nonzero(model.embed.weight) > 0 and not torch.equal(before, model.embed.weight)
    assert _f(model.act.weight) == 0.25 and _f(model.scale) == 3.0
    with pytest.raises(ValueError, match="'out' matches \\['out'\\] but sets no parameter"):
        ii.initialize(_Odd(), rules={"out": "zeros"})  # its weight belongs to embed: the rule would do nothing


def test_summary_records_and_renderings() -> None:
    model = cnn()
    summary = ii.initialize(model, seed=0, rules={"@last": "zeros"})
    dicts = summary.to_dicts()
    assert list(dicts[0]) == [
        *("layer", "module_type", "parameter", "shape", "scheme"),
        *("fan_in", "fan_out", "expected_std", "actual_std", "rule", "role"),
    ]
    assert dicts[0]["shape"] == [16, 3, 3, 3] and dicts[0]["fan_in"] == 27
    text = str(summary)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["layer", "type", "param"] and len(lines) == 2 + len(summary)
    assert len({line.index("he_normal") for line in lines if "he_normal" in line}) == 1  # aligned columns
    assert "@last" in lines[-2] and "@last" not in lines[-1]  # the head's weight, not its bias
    from rich.console import Console

    console = Console(file=io.StringIO(), width=200)
    console.print(summary)
    rendered = console.file.getvalue()  # type: ignore[attr-defined]
    assert "BatchNorm2d" in rendered and "seed 0" in rendered and "constant(value=1.0)" in rendered
