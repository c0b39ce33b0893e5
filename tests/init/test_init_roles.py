"""Roles in initialize(): embeddings, residual projections, heads, bias tables, norms; the gpt2 scheme.

Expected statistics are the papers' numbers written out here (GPT-2: 0.02 and 0.02 / sqrt(2 L);
Flax's embedding default: 1 / sqrt(dim)), checked on tensors large enough that the sample std is
within a few percent: for n draws of a normal the sample std's relative error is about 1/sqrt(2n),
0.3% for 65536 entries, so ``rel=0.03`` is ten of those.
"""

from __future__ import annotations

import math
import pickle

import pytest
import torch
from torch import nn

import initopt.init as ii
from initopt.models import CNN2d, MatrixFactorization, Transformer

STD_TOLERANCE = 0.03
D_MODEL = 256  # 256 x 768 = 196608 entries in qkv: the sample std is within 0.2% of the scheme's


def _std(t: torch.Tensor) -> float:
    return float(t.detach().double().std(correction=0))


def _row(summary: ii.InitSummary, layer: str, parameter: str = "weight") -> ii.InitRecord:
    (row,) = [r for r in summary.rows if r.layer == layer and r.parameter == parameter]
    return row


def transformer(layers: int, d_model: int = D_MODEL, vocab: int = 512, context: int = 256) -> Transformer:
    return Transformer(vocab, out=vocab, context=context, d_model=d_model, layers=layers, heads=4)


@pytest.mark.parametrize("layers", [1, 2, 6])
def test_gpt2_on_the_transformer(layers: int) -> None:
    model = transformer(layers)
    summary = ii.initialize(model, "gpt2", seed=0)
    residual_std = 0.02 / math.sqrt(2 * layers)  # GPT-2: N = 2 residual layers per block
    for index, block in enumerate(model.blocks):
        assert _std(block.attn.qkv.weight) == pytest.approx(0.02, rel=STD_TOLERANCE)
        assert _std(block.mlp.fc.weight) == pytest.approx(0.02, rel=STD_TOLERANCE)
        for name, proj in (("attn", block.attn.proj), ("mlp", block.mlp.proj)):
            assert _std(proj.weight) == pytest.approx(residual_std, rel=STD_TOLERANCE)
            row = _row(summary, f"blocks.{index}.{name}.proj")
            assert row.role == "residual" and row.expected_std == pytest.approx(residual_std, rel=1e-12)
            assert torch.count_nonzero(proj.bias) == 0
        for norm in (block.ln1, block.ln2):
            assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0)
    assert _std(model.tok.weight) == pytest.approx(0.02, rel=STD_TOLERANCE)
    assert _std(model.pos.weight) == pytest.approx(0.02, rel=STD_TOLERANCE)
    assert _std(model.head.weight) == pytest.approx(0.02, rel=STD_TOLERANCE)
    assert torch.all(model.norm.weight == 1) and torch.all(model.norm.bias == 0)
    roles = {(r.layer, r.parameter): r.role for r in summary.rows}
    assert roles[("tok", "weight")] == roles[("pos", "weight")] == "embedding"
    assert roles[("head", "weight")] == "head" and roles[("blocks.0.attn.qkv", "weight")] == "weight"
    assert roles[("blocks.0.ln1", "weight")] == "norm_weight" and roles[("blocks.0.ln1", "bias")] == "norm_bias"
    assert not summary.skipped


def test_gpt2_embedding_and_head_options() -> None:
    model = transformer(2)
    ii.initialize(model, ii.gpt2(embedding="lecun_normal", head="zeros"), seed=0)
    for table in (model.tok, model.pos):  # Flax's nn.Embed default: std 1 / sqrt(dim)
        assert _std(table.weight) == pytest.approx(1 / math.sqrt(D_MODEL), rel=STD_TOLERANCE)
    assert torch.count_nonzero(model.head.weight) == 0 and torch.count_nonzero(model.head.bias) == 0
    assert _std(model.blocks[0].attn.qkv.weight) == pytest.approx(0.02, rel=STD_TOLERANCE)


def test_gpt2_draws_equal_torch_normal_in_module_order() -> None:
    """The oracle: torch.nn.init.normal_ with the same generator, layer by layer."""
    model = transformer(1, d_model=32, vocab=20, context=8)
    ii.initialize(model, "gpt2", seed=3)
    generator = torch.Generator().manual_seed(3)
    expected = {
        "tok": 0.02, "pos": 0.02, "blocks.0.attn.qkv": 0.02, "blocks.0.attn.proj": 0.02 / math.sqrt(2),
        "blocks.0.mlp.fc": 0.02, "blocks.0.mlp.proj": 0.02 / math.sqrt(2), "head": 0.02,
    }  # fmt: skip
    modules = dict(model.named_modules())
    for name, std in expected.items():  # named_modules() order; biases and norms draw nothing
        weight = modules[name].weight
        assert torch.equal(weight, nn.init.normal_(torch.empty_like(weight), 0.0, std, generator=generator)), name


def test_residual_projections_are_counted_in_the_model() -> None:
    assert len([m for m in transformer(3, d_model=16).modules() if ii.is_residual_projection("", m)]) == 6
    # nanoGPT / Hugging Face GPT-2 name them c_proj: recognized without a mark
    def block() -> nn.ModuleDict:
        attn = nn.ModuleDict({"c_attn": nn.Linear(64, 192), "c_proj": nn.Linear(64, 64)})
        return nn.ModuleDict({"attn": attn, "mlp": nn.ModuleDict({"c_fc": nn.Linear(64, 256), "c_proj": nn.Linear(256, 64)})})

    model = nn.ModuleDict({"h": nn.ModuleList([block(), block()]), "lm_head": nn.Linear(64, 100)})
    summary = ii.initialize(model, "gpt2", seed=0)
    residual = {r.layer for r in summary.rows if r.role == "residual"}
    assert residual == {f"h.{i}.{part}.c_proj" for i in (0, 1) for part in ("attn", "mlp")}
    assert _row(summary, "h.1.mlp.c_proj").expected_std == pytest.approx(0.01)  # 0.02 / sqrt(2 * 2 blocks)


def test_residual_rule_key_selects_the_marked_projections() -> None:
    model = transformer(2, d_model=16)
    summary = ii.initialize(model, "he_normal", seed=0, rules={"@residual": "zeros"})
    for block in model.blocks:  # Fixup-style zero-initialized branches
        assert torch.count_nonzero(block.attn.proj.weight) == 0 and torch.count_nonzero(block.mlp.proj.weight) == 0
        assert torch.count_nonzero(block.attn.qkv.weight) > 0
    assert _row(summary, "blocks.1.mlp.proj").rule == "@residual"


def test_mark_residual_returns_the_module_and_adds_no_parameter() -> None:
    linear = nn.Linear(4, 4)
    assert ii.mark_residual(linear) is linear and ii.is_residual_projection("anything", linear)
    assert len(list(linear.parameters())) == 2 and not ii.is_residual_projection("proj", nn.Linear(4, 4))


# -- existing schemes on embeddings: fans (dim, dim), whatever the vocabulary ----------------------
VOCAB, DIM = 4096, 64  # 262144 entries


@pytest.mark.parametrize(
    ("scheme", "std"),
    [
        ("lecun_normal", 1 / math.sqrt(DIM)),
        ("xavier_normal", math.sqrt(2 / (DIM + DIM))),  # = 1 / sqrt(dim); not sqrt(2 / (dim + vocab))
        ("xavier_uniform", 1 / math.sqrt(DIM)),
        ("he_normal", math.sqrt(2 / DIM)),
        (ii.he_normal(mode="fan_out"), math.sqrt(2 / DIM)),  # fan_out is dim too, not the vocabulary
        ("gpt2", 0.02),
    ],
    ids=str,
)
def test_embedding_tables_take_the_fans_of_their_width(scheme: ii.SchemeLike, std: float) -> None:
    model = nn.Sequential(nn.Embedding(VOCAB, DIM), nn.Linear(DIM, 3))
    summary = ii.initialize(model, scheme, seed=0)
    row = _row(summary, "0")
    assert (row.role, row.fan_in, row.fan_out) == ("embedding", DIM, DIM)
    assert row.expected_std == pytest.approx(std, rel=1e-12)
    assert _std(model[0].weight) == pytest.approx(std, rel=STD_TOLERANCE)


@pytest.mark.parametrize("scheme", ["he_normal", "xavier_uniform", "gpt2", "orthogonal"])
def test_matrix_factorization_bias_tables_are_biases(scheme: str) -> None:
    model = MatrixFactorization(50, 70, dim=8)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(7.0)
    summary = ii.initialize(model, scheme, seed=0)
    for name in ("user_bias", "item_bias", "global_bias"):
        assert torch.count_nonzero(getattr(model, name).weight) == 0
        assert _row(summary, name).role == "bias"
    assert _row(summary, "user").role == "embedding" and torch.count_nonzero(model.user.weight) == 400
    # a rule for the parameter (its name is "weight") still reaches a bias table
    ii.initialize(model, scheme, seed=0, rules={"global_bias": {"name": "constant", "value": 3.5}})
    assert float(model.global_bias.weight.detach()) == 3.5


def test_existing_schemes_keep_batchnorm_and_layernorm_at_one_and_zero() -> None:
    model = CNN2d((3, 16, 16), out=10, channels=(64, 64), batchnorm=True)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(7.0)
    summary = ii.initialize(model, "he_normal", "he_uniform", seed=0)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 2 and all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in norms)
    conv = _row(summary, "features.4")  # the second conv: fan_in 64 * 3 * 3
    assert (conv.role, conv.fan_in) == ("weight", 576) and conv.actual_std == pytest.approx(math.sqrt(2 / 576), rel=0.05)
    assert _row(summary, "head").role == "head"


# -- the scheme itself: registry, validation, spec, explain -----------------------------------------
def test_gpt2_by_name_spec_and_pickle() -> None:
    scheme = ii.get({"name": "GPT2", "embedding": "lecun_normal"})
    assert scheme == ii.gpt2(embedding="lecun_normal") and isinstance(scheme, ii.ModelScheme)
    assert scheme.spec() == {"name": "gpt2", "std": 0.02, "embedding": "lecun_normal", "head": "normal"}
    assert ii.get(scheme.spec()) == scheme and pickle.loads(pickle.dumps(scheme)) == scheme
    assert scheme.std(100) == 0.02 and "gpt2" in ii.names()


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"embedding": "lecun_norml"}, r"unknown embedding 'lecun_norml'.*did you mean 'lecun_normal'"),
        ({"head": "zero"}, r"unknown head 'zero'.*did you mean 'zeros'"),
        ({"std": 0.0}, r"std must be > 0"),
        ({"gain": 1.0}, r"unknown parameter 'gain' for init scheme 'gpt2'"),
    ],
)
def test_gpt2_bad_parameters_name_them(params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ii.get("gpt2", **params)


def test_residual_std_formula() -> None:
    assert ii.residual_std(0.02, 4) == pytest.approx(0.01)
    assert ii.residual_std(0.02, 24) == pytest.approx(0.02 / math.sqrt(24))  # GPT-2 small: 12 blocks
    with pytest.raises(ValueError, match="residual layers must be >= 1"):
        ii.residual_std(0.02, 0)


def test_explain_gpt2_lists_every_role() -> None:
    e = ii.explain("gpt2", fan_in=64)
    assert e.std == 0.02 and e.interval_99_7 == pytest.approx((-0.05935, 0.05935), abs=1e-5)
    for text in ("residual projections", "0.01 (2 blocks)", "embeddings", "output head", "norm layers"):
        assert text in e.formula
    assert any("model-wide" in note for note in e.notes)
    lecun = ii.explain("gpt2", fan_in=64, embedding="lecun_normal", head="zeros")
    assert "1 / sqrt(64) = 0.125" in lecun.formula and "0 (zeros)" in lecun.formula
