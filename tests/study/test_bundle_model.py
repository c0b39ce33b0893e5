"""The hand-batched MLP bundle: its layout, its forward and its written-out backward against autograd
on the separate models."""

import pytest
import torch
from torch import nn

from initopt.study.bundle_model import ALIGN, HandBatchedMLP, bundle_model


def models(k=3, activation=nn.ReLU, sizes=(40, 32, 1)):
    """``k`` MLPs; ``activation``: a module class, or a tuple of them applied in a row."""
    torch.manual_seed(0)
    acts = activation if isinstance(activation, tuple) else (activation,)
    out = []
    for _ in range(k):
        layers = []
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            layers += [nn.Linear(a, b)] + ([act() for act in acts] if i < len(sizes) - 2 else [])
        out.append(nn.Sequential(*layers))
    return out


def test_large_weights_get_contiguous_blocks_and_small_parameters_share_padded_rows():
    separate = models()
    bundle = bundle_model(separate, torch.randn(2, 40), torch.device("cpu"))
    assert isinstance(bundle, HandBatchedMLP)
    large, small = bundle.blocks
    assert large.shape == (3, 40, 32) and large.is_contiguous()
    assert small.shape == (3, ALIGN * -(-(32 + 32 + 1) // ALIGN)) and small.stride(0) % ALIGN == 0
    for k, model in enumerate(separate):
        torch.testing.assert_close(bundle.params["0.weight"][k], model[0].weight.T)
        torch.testing.assert_close(bundle.params["2.weight"][k], model[2].weight.T)
        torch.testing.assert_close(bundle.params["2.bias"][k], model[2].bias)
    # every parameter lives in one of the blocks the optimizer steps, and so does its gradient
    for name, view in bundle.params.items():
        assert any(view.untyped_storage().data_ptr() == b.untyped_storage().data_ptr() for b in bundle.blocks), name


@pytest.mark.parametrize("activation", [nn.ReLU, nn.Tanh, nn.GELU, nn.Identity, (nn.Tanh, nn.ReLU), (nn.Sigmoid, nn.ReLU)])
@pytest.mark.parametrize("sizes", [(40, 32, 1), (40, 48, 48, 5)])
def test_written_out_backward_is_autograd_on_each_model(activation, sizes):
    separate = models(activation=activation, sizes=sizes)
    bundle = bundle_model(separate, torch.randn(2, sizes[0]), torch.device("cpu"))
    x = torch.randn(3, 8, sizes[0])
    grad_output = torch.randn(3, 8, sizes[-1])
    output = bundle.forward_train(x).clone()
    bundle.backward(grad_output)
    for k, model in enumerate(separate):
        expected = model(x[k])
        torch.testing.assert_close(output[k], expected, rtol=1e-5, atol=1e-6)
        grads = torch.autograd.grad(expected, list(model.parameters()), grad_output[k])
        for (name, _), grad in zip(model.named_parameters(), grads):
            got = bundle.grads[name][k]
            torch.testing.assert_close(got, grad.T if name.endswith("weight") else grad, rtol=1e-5, atol=1e-5)
    # the padding of the shared block keeps a zero gradient, so the optimizer leaves it at zero
    small = bundle.grad_blocks[-1]
    used = sum(bundle.grads[n][0].numel() for n in bundle.grads if bundle.grads[n].data_ptr() >= small.data_ptr())
    assert torch.count_nonzero(small[:, used:]) == 0


def test_forward_train_leaves_its_input_alone_when_relu_comes_first():
    torch.manual_seed(0)
    separate = [nn.Sequential(nn.ReLU(), nn.Linear(6, 1)) for _ in range(2)]
    bundle = bundle_model(separate, torch.randn(2, 6), torch.device("cpu"))
    x = torch.randn(2, 5, 6)
    before = x.clone()
    bundle.forward_train(x)
    assert torch.equal(x, before)


@pytest.mark.parametrize("activation", [nn.ReLU, nn.Tanh, (nn.Sigmoid, nn.ReLU)])
@pytest.mark.parametrize("sizes", [(40, 32, 1), (40, 48, 48, 5)])
def test_forward_of_one_input_for_every_configuration_is_each_models(activation, sizes):
    separate = models(activation=activation, sizes=sizes)
    bundle = bundle_model(separate, torch.randn(2, sizes[0]), torch.device("cpu"))
    x = torch.randn(50, sizes[0])
    got = bundle.forward_shared(x)
    assert got.shape == (3, 50, sizes[-1])
    for k, model in enumerate(separate):
        torch.testing.assert_close(got[k], model(x).detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(bundle.forward(x.expand(3, -1, -1)), got, rtol=1e-5, atol=1e-5)
