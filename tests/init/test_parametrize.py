"""muP by rule: each role's init std and lr multiplier at two widths, against TP5's Table 3."""

import math

import pytest
import torch
from torch import nn

from initopt import optim
from initopt.init import initialize, parametrize, with_lr
from initopt.init.parametrize import rules
from initopt.models.mlp import mlp
from initopt.models.transformer import Transformer

BASE = 64


def built(width: int, seed: int = 0) -> nn.Sequential:
    model = mlp(40, [width, width], 10)
    initialize(model, "he_normal", seed=seed)
    return model


@pytest.mark.parametrize("width", [64, 1024])
def test_mlp_roles_init_and_adam_lr_at_two_widths(width):
    m = width / BASE
    model = built(width)
    sp_std = {name: p.std().item() for name, p in model.named_parameters()}
    groups = parametrize(model, "mup", base_width=BASE)
    by_name = {n: g for g in groups for n in g["names"]}
    assert {n: g["role"] for n, g in by_name.items()} == {
        "0.weight": "input", "0.bias": "vector", "2.weight": "hidden", "2.bias": "vector",
        "4.weight": "output", "4.bias": "output_bias"}
    expected_lr = {"input": 1.0, "vector": 1.0, "hidden": 1 / m, "output": 1 / m, "output_bias": 1.0}
    for name, group in by_name.items():
        assert group["lr_scale"] == pytest.approx(expected_lr[group["role"]])
        assert group["weight_decay_scale"] == pytest.approx(1 / expected_lr[group["role"]])  # lr x wd as at base
    params = dict(model.named_parameters())
    # input and hidden keep He's std sqrt(2 / fan_in); the head's shrinks by 1/sqrt(m): variance 2/(fan_in m)
    assert params["0.weight"].std().item() == pytest.approx(math.sqrt(2 / 40), rel=0.05)
    assert params["2.weight"].std().item() == pytest.approx(math.sqrt(2 / width), rel=0.05)
    assert params["4.weight"].std().item() == pytest.approx(sp_std["4.weight"] / math.sqrt(m), rel=1e-5)


def test_sgd_table_and_the_output_multiplier():
    model, m, alpha = built(256), 4.0, 2.0
    table = {r.name: r for r in rules(model, "mup", base_width=BASE, optimizer="sgd", output_multiplier=alpha)}
    assert table["0.weight"].lr_scale == pytest.approx(m)  # input: fan_out
    assert table["0.bias"].lr_scale == pytest.approx(m)
    assert table["2.weight"].lr_scale == pytest.approx(1.0)
    assert table["4.weight"].lr_scale == pytest.approx(alpha**2 / m)  # output: 1/fan_in (the multiplier folded in)
    assert table["4.weight"].init_scale == pytest.approx(alpha / math.sqrt(m))
    assert table["4.bias"].lr_scale == 1.0
    coupled = {r.name: r for r in rules(model, "mup", base_width=BASE, decay="coupled")}
    assert {r.weight_decay_scale for r in coupled.values()} == {1.0}


def test_sp_changes_nothing_and_mup_equals_sp_at_the_base_width():
    for parametrization, width in (("sp", 256), ("mup", BASE)):
        model = built(width)
        before = [p.clone() for p in model.parameters()]
        groups = parametrize(model, parametrization, base_width=BASE)
        assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
        assert {g["lr_scale"] for g in groups} == {1.0}


def test_folded_multiplier_trains_as_microsofts_readout():
    """The head's 1/m multiplier folded into its weights and Adam lr trains as a forward multiplier
    does (microsoft/mup's MuReadout): equal logits after 20 Adam steps, up to Adam's epsilon."""
    m, lr = 4.0, 1e-2
    torch.manual_seed(0)
    x, y = torch.randn(64, 40), torch.randint(0, 10, (64,))
    folded = built(256)
    readout = built(256)
    with torch.no_grad():  # microsoft's: the head's SP weights times sqrt(m), its input divided by m
        readout[4].weight.mul_(math.sqrt(m))
    readout[4].register_forward_pre_hook(lambda module, args: (args[0] / m,))
    groups = parametrize(folded, "mup", base_width=BASE)
    opt_folded = optim.Adam(groups, lr=lr, eps=1e-12)
    mup_groups = [{"params": [p for n, p in readout.named_parameters() if n == "2.weight"], "lr": lr / m},
                  {"params": [p for n, p in readout.named_parameters() if n != "2.weight"], "lr": lr}]
    opt_readout = torch.optim.Adam(mup_groups, lr=lr, eps=1e-12)
    for model, opt in ((folded, opt_folded), (readout, opt_readout)):
        for _ in range(20):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    torch.testing.assert_close(folded(x), readout(x), rtol=1e-4, atol=1e-5)


def test_optimizers_read_the_scales_and_torch_gets_absolute_groups():
    model = built(256)
    groups = parametrize(model, "mup", base_width=BASE)
    opt = optim.AdamW(groups, lr=1e-3, weight_decay=0.1)
    hidden = next(g for g in opt.param_groups if g["role"] == "hidden")
    assert hidden["lr"] == pytest.approx(1e-3 / 4) and hidden["weight_decay"] == pytest.approx(0.4)
    plain = torch.optim.AdamW(with_lr(groups, 1e-3, 0.1))
    assert [g["lr"] for g in plain.param_groups] == pytest.approx([g["lr"] for g in opt.param_groups])
    restored = optim.AdamW(parametrize(built(256), "mup", base_width=BASE), lr=1e-3, weight_decay=0.1)
    restored.load_state_dict(opt.state_dict())
    assert [g["lr"] for g in restored.param_groups] == [g["lr"] for g in opt.param_groups]


def test_transformer_roles_and_attention_scale():
    model = Transformer(vocab_size=20, out=20, context=8, d_model=128, layers=2, heads=4)
    initialize(model, "gpt2", seed=0)
    groups = parametrize(model, "mup", base_width=32)
    roles = {n: g["role"] for g in groups for n in g["names"]}
    assert roles["tok.weight"] == roles["pos.weight"] == "input"
    assert roles["blocks.0.attn.qkv.weight"] == roles["blocks.1.mlp.proj.weight"] == "hidden"
    assert roles["head.weight"] == "output" and roles["head.bias"] == "output_bias"
    assert roles["blocks.0.ln1.weight"] == roles["norm.bias"] == "vector"
    attention = model.blocks[0].attn
    assert attention.attention_scale == pytest.approx(1 / math.sqrt(4 * 32))  # 1/sqrt(m d_head), m = 4
    x = torch.randint(0, 20, (3, 8))
    scaled = model(x)
    for block in model.blocks:
        block.attn.attention_scale = None  # SP's 1/sqrt(d_head): the forward reads the scale
    assert not torch.allclose(scaled, model(x))


def test_twice_or_bad_settings_are_clear_errors():
    model = built(128)
    parametrize(model, "mup", base_width=BASE)
    with pytest.raises(ValueError, match="already parametrized"):
        parametrize(model, "mup", base_width=BASE)
    with pytest.raises(ValueError, match="parametrization must be one of sp, mup"):
        parametrize(built(128), "ntk", base_width=BASE)
    with pytest.raises(ValueError, match="base_width must be a whole number >= 1"):
        parametrize(built(128), "mup", base_width=0)
    with pytest.raises(ValueError, match="muP's learning-rate rules are written for"):
        rules(built(128), "mup", base_width=BASE, optimizer="muon")


def test_input_weights_keep_their_base_width_std_when_the_scheme_is_known():
    """He's embedding std is 1/sqrt(dim)-like (fans (dim, dim)); muP's input weights do not shrink with
    width: given the scheme, they get the std He gives at the base width."""
    model = Transformer(vocab_size=50, out=5, context=8, d_model=256, layers=1, heads=4)
    initialize(model, "he_normal", seed=0)
    before = model.tok.weight.std().item()
    parametrize(model, "mup", base_width=64, scheme="he_normal")
    assert model.tok.weight.std().item() == pytest.approx(before * 2, rel=1e-5)  # sqrt(m), m = 4
    fixed = Transformer(vocab_size=50, out=5, context=8, d_model=256, layers=1, heads=4)
    initialize(fixed, "gpt2", seed=0)  # std 0.02 whatever the width: nothing to correct
    before = fixed.tok.weight.clone()
    parametrize(fixed, "mup", base_width=64, scheme="gpt2")
    assert torch.equal(fixed.tok.weight, before)
