"""The drop-in surface: torch.optim's signatures, base class and exports."""

from __future__ import annotations

import inspect

import pytest
import torch

import initopt.optim as optim

PAIRS = [(torch.optim.SGD, optim.SGD), (torch.optim.Adam, optim.Adam), (torch.optim.AdamW, optim.AdamW)]
ADDED = {"decay", "state_dtype", "kahan_sum"}  # keyword-only arguments we add after torch's


@pytest.mark.parametrize(("torch_cls", "our_cls"), PAIRS, ids=lambda c: c.__name__)
def test_signature_is_torchs_plus_added_keywords(torch_cls: type, our_cls: type) -> None:
    """Same names, order, kinds and defaults as the installed torch; additions only at the end."""
    ref = list(inspect.signature(torch_cls.__init__).parameters.values())
    ours = list(inspect.signature(our_cls.__init__).parameters.values())
    assert [(p.name, p.kind, p.default) for p in ours[: len(ref)]] == [
        (p.name, p.kind, p.default) for p in ref
    ]
    extra = ours[len(ref) :]
    assert {p.name for p in extra} <= ADDED
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in extra)


@pytest.mark.parametrize(("torch_cls", "our_cls"), PAIRS, ids=lambda c: c.__name__)
def test_is_a_torch_optimizer(torch_cls: type, our_cls: type) -> None:
    opt = our_cls([torch.zeros(2, requires_grad=True)])
    assert isinstance(opt, torch.optim.Optimizer)
    torch.optim.lr_scheduler.StepLR(opt, step_size=1)  # schedulers accept it


def test_adamw_is_adam_with_decoupled_decay() -> None:
    assert issubclass(optim.AdamW, optim.Adam)
    opt = optim.AdamW([torch.zeros(2, requires_grad=True)])
    assert opt.param_groups[0]["decoupled_weight_decay"] is True
    assert opt.param_groups[0]["weight_decay"] == 1e-2


def test_exports() -> None:
    for name in optim.__all__:
        assert getattr(optim, name) is not None
    assert inspect.ismodule(optim.adam) and inspect.ismodule(optim.sgd)  # not the functionals
