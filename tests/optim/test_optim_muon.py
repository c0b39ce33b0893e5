"""initopt.optim.Muon against torch.optim.Muon (and torch.optim.AdamW for its AdamW groups)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from initopt.models.transformer import Transformer
from initopt.optim import Muon, muon_param_groups, newton_schulz

STEPS = 100


def _matrices(seed: int = 0) -> list[nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [nn.Parameter(torch.randn(shape, generator=g) * 0.1) for shape in ((8, 5), (5, 8), (6, 6))]


def _step_both(ours, theirs, params_ours, params_theirs, steps=STEPS, seed=1):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        for p, q in zip(params_ours, params_theirs):
            grad = torch.randn(p.shape, generator=g)
            p.grad, q.grad = grad.clone(), grad.clone()
        ours.step()
        theirs.step()


def _assert_same(params_ours, params_theirs):
    for p, q in zip(params_ours, params_theirs):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-6)


OPTIONS = [
    {},
    {"nesterov": False, "momentum": 0.9},
    {"adjust_lr_fn": "original", "weight_decay": 0.0},
    {"adjust_lr_fn": "match_rms_adamw", "lr": 3e-3},
    {"ns_steps": 3, "ns_coefficients": (2.0, -1.5, 0.5), "eps": 1e-5},
    {"lr": torch.tensor(2e-3)},
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "defaults")
def test_muon_equals_torch_muon_over_100_steps(options):
    ours_params, theirs_params = _matrices(), _matrices()
    ours = Muon(ours_params, **options)
    theirs = torch.optim.Muon(theirs_params, **options)
    _step_both(ours, theirs, ours_params, theirs_params)
    _assert_same(ours_params, theirs_params)
    for p, q in zip(ours_params, theirs_params):
        torch.testing.assert_close(ours.state[p]["momentum_buffer"], theirs.state[q]["momentum_buffer"])


def test_state_dicts_load_both_ways_and_training_goes_on_the_same():
    a_params, b_params = _matrices(), _matrices()
    ours, theirs = Muon(a_params, lr=2e-3), torch.optim.Muon(b_params, lr=2e-3)
    _step_both(ours, theirs, a_params, b_params, steps=5)
    swapped_ours = Muon(a_params, lr=1.0)
    swapped_ours.load_state_dict(theirs.state_dict())  # torch's into initopt's
    swapped_theirs = torch.optim.Muon(b_params, lr=1.0)
    swapped_theirs.load_state_dict(ours.state_dict())  # initopt's into torch's
    assert swapped_ours.param_groups[0]["lr"] == 2e-3 and swapped_ours.param_groups[0]["use_muon"]
    _step_both(swapped_ours, swapped_theirs, a_params, b_params, steps=20, seed=7)
    _assert_same(a_params, b_params)


ARGUMENTS = [{"lr": -1.0}, {"momentum": -0.5}, {"weight_decay": -0.1}, {"adjust_lr_fn": "rms"},
             {"lr": torch.tensor([1e-3, 2e-3])}]


@pytest.mark.parametrize("kwargs", ARGUMENTS, ids=lambda k: next(iter(k)))
def test_bad_arguments_raise_torch_muons_errors(kwargs):
    with pytest.raises(ValueError) as theirs:
        torch.optim.Muon(_matrices(), **kwargs)
    with pytest.raises(ValueError) as ours:
        Muon(_matrices(), **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_a_muon_group_takes_only_matrices():
    with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
        Muon([nn.Parameter(torch.zeros(3))])
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        Muon([{"params": [nn.Parameter(torch.zeros(3))], "use_muon": False, "adamw_betas": (0.9, 1.0)}])


def test_stacked_matrices_are_orthogonalized_each_alone():
    g = torch.Generator().manual_seed(3)
    for shape in ((4, 6, 9), (4, 9, 6)):
        stacked = torch.randn(shape, generator=g)
        alone = torch.stack([newton_schulz(m) for m in stacked])
        # bfloat16 products in another order: a few of bfloat16's steps (2^-8) apart
        torch.testing.assert_close(newton_schulz(stacked).float(), alone.float(), atol=0.03, rtol=0)
    wide = newton_schulz(torch.randn(6, 9, generator=g)).float()
    singular_values = torch.linalg.svdvals(wide)
    assert 0.5 < singular_values.min() and singular_values.max() < 1.5  # near-orthogonal rows


def _transformer(seed: int) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(vocab_size=11, out=5, context=4, d_model=8, layers=1, heads=2)


def test_muon_param_groups_send_hidden_matrices_to_muon_and_the_rest_to_adamw():
    model = _transformer(0)
    groups = muon_param_groups(model)
    names = {id(p): n for n, p in model.named_parameters()}
    by_group = [sorted(names[id(p)] for p in g["params"]) for g in groups]
    assert [g["use_muon"] for g in groups] == [True, False, False]
    assert by_group[0] == ["blocks.0.attn.proj.weight", "blocks.0.attn.qkv.weight", "blocks.0.mlp.fc.weight",
                           "blocks.0.mlp.proj.weight"]
    assert by_group[1] == ["head.weight", "pos.weight", "tok.weight"]  # head and embeddings: AdamW, decayed
    assert "weight_decay" not in groups[1] and groups[2]["weight_decay"] == 0.0
    assert all(n.endswith("bias") or ".ln" in n or n.startswith("norm") for n in by_group[2])


def test_muon_with_adamw_equals_torch_muon_beside_torch_adamw():
    ours_model, theirs_model = _transformer(1), _transformer(1)
    ours = Muon(muon_param_groups(ours_model), lr=2e-3, weight_decay=0.1, adjust_lr_fn="match_rms_adamw",
                adamw_betas=(0.9, 0.95), adamw_eps=1e-8)
    theirs_groups = muon_param_groups(theirs_model)
    theirs_muon = torch.optim.Muon(theirs_groups[0]["params"], lr=2e-3, weight_decay=0.1, adjust_lr_fn="match_rms_adamw")
    theirs_adamw = torch.optim.AdamW([{"params": g["params"], **({"weight_decay": g["weight_decay"]} if "weight_decay" in g else {})}
                                      for g in theirs_groups[1:]], lr=2e-3, weight_decay=0.1, betas=(0.9, 0.95), eps=1e-8)

    class Both:
        def step(self):
            theirs_muon.step()
            theirs_adamw.step()

    ours_params, theirs_params = list(ours_model.parameters()), list(theirs_model.parameters())
    _step_both(ours, Both(), ours_params, theirs_params)
    _assert_same(ours_params, theirs_params)
