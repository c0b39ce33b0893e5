"""Each bundled layer against K separate torch modules: forward, the input's gradient and every
parameter's gradient (and BatchNorm's running statistics), on the folded batch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from initopt.study.bundled import LAYERS, FoldedBundle
from initopt.study.bundled.base import BundleContext

K, B = 3, 5
TOLERANCE = 1e-5  # relative to the largest value compared: sums of many products round differently


def assert_close(got, expected, msg=""):
    scale = max(float(expected.detach().abs().max()), 1.0)
    torch.testing.assert_close(got, expected, atol=TOLERANCE * scale, rtol=0, msg=msg or None)


def _ids(shape, high):
    return lambda: torch.randint(0, high, shape)


# (id, module factory, one configuration's input (B, ...) factory, call keyword arguments)
CASES = [
    ("linear", lambda: nn.Linear(6, 4), lambda: torch.randn(B, 6), {}),
    ("linear-3d-no-bias", lambda: nn.Linear(6, 4, bias=False), lambda: torch.randn(B, 7, 6), {}),
    ("conv1d", lambda: nn.Conv1d(3, 4, 5, stride=2, padding=1), lambda: torch.randn(B, 3, 19), {}),
    ("conv1d-same-dilated", lambda: nn.Conv1d(2, 3, 3, padding="same", dilation=2), lambda: torch.randn(B, 2, 11), {}),
    ("conv1d-valid-no-bias", lambda: nn.Conv1d(2, 3, 4, padding="valid", bias=False), lambda: torch.randn(B, 2, 9), {}),
    ("conv2d", lambda: nn.Conv2d(2, 4, 3, padding=1), lambda: torch.randn(B, 2, 8, 8), {}),
    ("conv2d-strided", lambda: nn.Conv2d(3, 2, (3, 2), stride=(2, 1), padding=(1, 0)), lambda: torch.randn(B, 3, 7, 6), {}),
    ("embedding", lambda: nn.Embedding(11, 4), _ids((B, 6), 11), {}),
    ("layernorm", lambda: nn.LayerNorm(6), lambda: torch.randn(B, 3, 6), {}),
    ("layernorm-2d-shape", lambda: nn.LayerNorm((3, 6)), lambda: torch.randn(B, 3, 6), {}),
    ("layernorm-no-bias", lambda: nn.LayerNorm(6, bias=False), lambda: torch.randn(B, 6), {}),
    ("rmsnorm", lambda: nn.RMSNorm(6), lambda: torch.randn(B, 2, 6), {}),
    ("batchnorm1d", lambda: nn.BatchNorm1d(4), lambda: torch.randn(B, 4), {}),
    ("batchnorm1d-3d", lambda: nn.BatchNorm1d(4, momentum=None), lambda: torch.randn(B, 4, 7), {}),
    ("batchnorm2d", lambda: nn.BatchNorm2d(3), lambda: torch.randn(B, 3, 4, 4), {}),
    ("maxpool2d", lambda: nn.MaxPool2d(2), lambda: torch.randn(B, 3, 8, 8), {}),
    ("maxpool2d-ties", lambda: nn.MaxPool2d(2), lambda: torch.randint(0, 2, (B, 3, 6, 6)).float(), {}),
    ("maxpool2d-overlapping-ceil", lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
     lambda: torch.randn(B, 2, 7, 7), {}),
    ("batchnorm2d-no-running", lambda: nn.BatchNorm2d(3, track_running_stats=False), lambda: torch.randn(B, 3, 4, 4), {}),
]


def _randomize(module: nn.Module) -> nn.Module:
    """Distinct parameters per configuration, norms included (not ones and zeros)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.5 + (1.0 if p.dim() == 1 else 0.0))
    return module


def _bundled(modules):
    kinds = {kind: layer for layer in LAYERS for kind in layer.replaces}
    return kinds[type(modules[0])](modules, BundleContext(len(modules)))


def _run(modules, bundled, inputs, kwargs):
    floating = inputs[0].is_floating_point()
    xs = [x.clone().requires_grad_(floating) for x in inputs]
    expected = [m(x, **kwargs) for m, x in zip(modules, xs)]
    expected = [e[0] if isinstance(e, tuple) else e for e in expected]
    folded = torch.cat(inputs).clone().requires_grad_(floating)
    got = bundled(folded, **kwargs)
    got = got[0] if isinstance(got, tuple) else got
    weights = torch.randn_like(got)
    torch.stack(expected).mul(weights.view(K, B, *got.shape[1:])).sum().backward()
    got.mul(weights).sum().backward()
    return xs, expected, folded, got


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_bundled_layer_equals_k_separate_modules(case, mode):
    _, make, make_input, kwargs = case
    torch.manual_seed(0)
    modules = [_randomize(make()) for _ in range(K)]
    bundled = _bundled(modules)
    for m in [*modules, bundled]:
        m.train(mode == "train")
    inputs = [make_input() for _ in range(K)]
    for _ in range(2):  # twice: BatchNorm's running statistics carry over
        xs, expected, folded, got = _run(modules, bundled, inputs, kwargs)
    assert_close(got.view(K, B, *got.shape[1:]), torch.stack(expected))
    if folded.grad is not None:
        assert_close(folded.grad, torch.cat([x.grad for x in xs]))
    for name, stacked in bundled.named_parameters():
        separate = torch.stack([m.get_parameter(name).grad for m in modules]).view(stacked.shape)
        assert_close(stacked.grad, separate, msg=name)
    for name, buffer in bundled.named_buffers():
        separate = torch.stack([m.get_buffer(name) for m in modules])
        if buffer.dim() == 0:  # num_batches_tracked: one count for the bundle
            separate = separate[0]
        assert_close(buffer.view(separate.shape), separate.to(buffer.dtype), msg=name)


ATTENTION = [
    ("self-batch-first", dict(batch_first=True), dict(need_weights=False)),
    ("self-weights", dict(batch_first=True), dict(need_weights=True)),
    ("self-weights-per-head", dict(batch_first=True), dict(need_weights=True, average_attn_weights=False)),
    ("sequence-first", dict(batch_first=False), dict(need_weights=False)),
    ("no-bias", dict(batch_first=True, bias=False), dict(need_weights=False)),
]


@pytest.mark.parametrize("case", ATTENTION, ids=[c[0] for c in ATTENTION])
@pytest.mark.parametrize("mask", ["none", "causal-bool", "causal-float", "is-causal", "key-padding"])
def test_bundled_attention_equals_k_separate_modules(case, mask):
    _, options, call = case
    torch.manual_seed(1)
    length, embed = 6, 8
    modules = [_randomize(nn.MultiheadAttention(embed, 2, **options)) for _ in range(K)]
    bundled = _bundled(modules)
    causal = torch.ones(length, length, dtype=torch.bool).triu(1)
    kwargs = dict(call)
    if mask == "causal-bool":
        kwargs["attn_mask"] = causal
    elif mask == "causal-float":
        kwargs["attn_mask"] = torch.zeros(length, length).masked_fill(causal, float("-inf"))
    elif mask == "is-causal":
        kwargs.update(attn_mask=causal, is_causal=True)
    inputs = [torch.randn(B, length, embed) for _ in range(K)]
    padding = [torch.rand(B, length) < 0.3 for _ in range(K)]
    for p in padding:
        p[:, 0] = False  # every query keeps a key to attend to
    seq_first = not options["batch_first"]
    expected_out, expected_w, got_grads = [], [], []
    xs = [x.clone().requires_grad_(True) for x in inputs]
    for m, x, pad in zip(modules, xs, padding):
        extra = {"key_padding_mask": pad} if mask == "key-padding" else {}
        q = x.transpose(0, 1) if seq_first else x
        out, w = m(q, q, q, **kwargs, **extra)
        expected_out.append(out.transpose(0, 1) if seq_first else out)
        expected_w.append(w)
    folded = torch.cat(inputs).clone().requires_grad_(True)
    extra = {"key_padding_mask": torch.cat(padding)} if mask == "key-padding" else {}
    q = folded.transpose(0, 1) if seq_first else folded
    out, w = bundled(q, q, q, **kwargs, **extra)
    out = out.transpose(0, 1) if seq_first else out
    assert_close(out.view(K, B, length, embed), torch.stack(expected_out))
    if kwargs.get("need_weights"):
        assert_close(w.view(K, B, *w.shape[1:]), torch.stack(expected_w))
    weights = torch.randn_like(out)
    torch.stack(expected_out).mul(weights.view(K, B, length, embed)).sum().backward()
    out.mul(weights).sum().backward()
    assert_close(folded.grad, torch.cat([x.grad for x in xs]))
    for name, stacked in bundled.named_parameters():
        separate = torch.stack([m.get_parameter(name).grad for m in modules])
        assert_close(stacked.grad, separate, msg=name)


def test_dropout_draws_each_configurations_mask_from_its_own_seed():
    """On the CPU a configuration drops exactly what ``F.dropout`` drops after ``torch.manual_seed(seed)``."""
    seeds = [3, 1, 4]
    model = nn.Sequential(nn.Linear(6, 16), nn.Dropout(0.3), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
    models = [_randomize(nn.Sequential(*[type(m)(*_args(m)) for m in model])) for _ in seeds]
    bundle = FoldedBundle(models, seeds, torch.device("cpu"))
    inputs = torch.randn(len(seeds), B, 6)
    got = [bundle.forward(inputs) for _ in range(3)]  # three steps: the generators move on
    for i, (m, seed) in enumerate(zip(models, seeds)):
        torch.manual_seed(seed)
        for step in range(3):
            assert_close(got[step][i], m.train()(inputs[i]))
    again = FoldedBundle(models, seeds, torch.device("cpu")).forward(inputs)
    assert torch.equal(again, got[0])  # reproducible from the seeds
    evaluated = bundle.forward_shared(inputs[0])
    assert_close(evaluated[1], models[1].eval()(inputs[0]))


def _args(module):
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if isinstance(module, nn.Dropout):
        return (module.p,)
    return ()


def test_dropout_without_a_bundled_layer_trains_one_configuration_at_a_time():
    """Channel dropout has no bundled layer: vmap would draw from the global RNG, not from each
    configuration's seed, so the bundle refuses it, naming the layer."""
    from initopt.study.bundled import NotBatchable

    models = [nn.Sequential(nn.Conv1d(2, 3, 3), nn.Dropout1d(0.2)) for _ in range(2)]
    with pytest.raises(NotBatchable, match=r"layer 1 \(Dropout1d\)"):
        FoldedBundle(models, [0, 1], torch.device("cpu"))
