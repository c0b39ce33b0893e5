"""The built-in models cnn2d, transformer and mf: shapes, options and their errors, parameter counts,
the transformer's bundling constraints, and a few fit steps that reduce the loss.

Shapes and option errors are tables: a row covers one model with one option set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import initopt
import initopt.init as ii
from initopt.models import BUILTIN_MODELS, CNN2d, MatrixFactorization, ModelOptionError, Transformer, build_model

BATCH = 5


def tokens(vocab: int, target_shape: tuple[int, ...] = ()) -> SimpleNamespace:
    """What the model reads of a token dataset's DatasetInfo."""
    return SimpleNamespace(name="toy", input_kind="tokens", vocab_size=vocab, target_shape=target_shape, n_users=0, n_items=0)


def pairs(n_users: int, n_items: int) -> SimpleNamespace:
    return SimpleNamespace(name="toy", input_kind="pairs", vocab_size=0, target_shape=(), n_users=n_users, n_items=n_items)


@dataclass(frozen=True)
class ShapeCase:
    id: str
    model: str
    input_shape: tuple[int, ...]
    out: int
    x: Any  # () -> input batch
    expected: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)
    dataset: Any = None


SHAPE_CASES = [
    ShapeCase("cnn2d-digits-flat", "cnn2d", (64,), 10, lambda: torch.randn(BATCH, 64), (BATCH, 10)),
    ShapeCase("cnn2d-rgb32", "cnn2d", (3, 32, 32), 10, lambda: torch.randn(BATCH, 3, 32, 32), (BATCH, 10)),
    ShapeCase("cnn2d-hw", "cnn2d", (28, 28), 10, lambda: torch.randn(BATCH, 28, 28), (BATCH, 10), {"depth": 3}),
    ShapeCase("cnn2d-no-bn-tanh", "cnn2d", (1, 8, 8), 3, lambda: torch.randn(BATCH, 1, 8, 8), (BATCH, 3),
              {"batchnorm": False, "activation": "tanh", "channels": 8}),
    ShapeCase("cnn2d-channel-list", "cnn2d", (3, 16, 16), 1, lambda: torch.randn(BATCH, 3, 16, 16), (BATCH, 1),
              {"channels": [8, 16, 32, 64, 64]}),
    ShapeCase("cnn2d-image-shape", "cnn2d", (48,), 2, lambda: torch.randn(BATCH, 48), (BATCH, 2),
              {"image_shape": [3, 4, 4]}),
    ShapeCase("transformer-last", "transformer", (3,), 7, lambda: torch.randint(0, 8, (BATCH, 3)), (BATCH, 7),
              {}, tokens(8)),
    ShapeCase("transformer-per-token", "transformer", (12,), 20, lambda: torch.randint(0, 20, (BATCH, 12)),
              (BATCH, 12, 20), {"layers": 3, "heads": 2, "d_model": 32}, tokens(20, (12,))),
    ShapeCase("transformer-no-dataset", "transformer", (6,), 11, lambda: torch.randint(0, 11, (BATCH, 6)), (BATCH, 11),
              {"dropout": 0.1, "context": 16}),
    ShapeCase("transformer-float-ids", "transformer", (4,), 9, lambda: torch.randint(0, 9, (BATCH, 4)).float(),
              (BATCH, 9), {"d_model": 16, "heads": 1}),
    ShapeCase("mf", "mf", (2,), 1, lambda: torch.stack([torch.randint(0, 4, (BATCH,)), torch.randint(0, 6, (BATCH,))], 1),
              (BATCH, 1), {"dim": 3}, pairs(4, 6)),
    ShapeCase("mf-options", "mf", (2,), 1, lambda: torch.tensor([[0, 0], [3, 9]]), (2, 1), {"n_users": 4, "n_items": 10}),
]


@pytest.mark.parametrize("case", SHAPE_CASES, ids=[c.id for c in SHAPE_CASES])
def test_output_shapes(case: ShapeCase) -> None:
    torch.manual_seed(0)
    model = build_model(case.model, n_features=math.prod(case.input_shape), out=case.out,
                        input_shape=case.input_shape, dataset=case.dataset, **case.options)
    model.eval()
    output = model(case.x())
    assert tuple(output.shape) == case.expected and torch.isfinite(output).all()
    wrapped = build_model(case.model, n_features=math.prod(case.input_shape), out=case.out, input_shape=case.input_shape,
                          dataset=case.dataset, probabilities=True, **case.options)
    assert isinstance(wrapped[-1], nn.Sigmoid)


def test_the_new_models_are_listed() -> None:
    assert {"cnn2d", "transformer", "mf"} <= set(BUILTIN_MODELS)


OPTION_ERRORS = [
    ("cnn2d", (64,), {"width": 3}, "width", "does not take option 'width'"),
    ("cnn2d", (64,), {"chanels": 3}, "chanels", "did you mean 'channels'"),
    ("cnn2d", (64,), {"channels": 0}, "channels", "whole number >= 1"),
    ("cnn2d", (64,), {"depth": 0}, "depth", "whole number >= 1"),
    ("cnn2d", (64,), {"channels": [8, 8], "depth": 3}, "depth", "differs from the number of blocks"),
    ("cnn2d", (64,), {"batchnorm": "yes"}, "batchnorm", "true or false"),
    ("cnn2d", (64,), {"activation": "relux"}, "activation", "did you mean 'relu'"),
    ("cnn2d", (60,), {}, "image_shape", "give the option image_shape"),
    ("cnn2d", (64,), {"image_shape": [3, 4, 4]}, "image_shape", "C \\* H \\* W = 64"),
    ("transformer", (3,), {"heads": 3}, "heads", "must divide d_model"),
    ("transformer", (3,), {"context": 2}, "context", "shorter than the inputs"),
    ("transformer", (3,), {"dropout": 1.0}, "dropout", r"in \[0, 1\)"),
    ("transformer", (3,), {"layers": 0}, "layers", "whole number >= 1"),
    ("transformer", (3,), {"d_model": 64.0}, "d_model", "whole number"),
    ("transformer", (3,), {"n_heads": 2}, "n_heads", "did you mean 'heads'"),
    ("mf", (2,), {"dim": 0, "n_users": 3, "n_items": 3}, "dim", "whole number >= 1"),
    ("mf", (2,), {"n_items": 3}, "n_users", "needs option 'n_users'"),
    ("mf", (2,), {"n_users": 3, "n_items": 3, "rank": 4}, "rank", "does not take option 'rank'"),
]


@pytest.mark.parametrize(("model", "input_shape", "options", "option", "match"), OPTION_ERRORS,
                         ids=[f"{m}-{o}" for m, _, _, o, _ in OPTION_ERRORS])
def test_bad_options_raise_model_option_error_naming_the_option(model, input_shape, options, option, match) -> None:
    with pytest.raises(ModelOptionError, match=match) as info:
        build_model(model, n_features=math.prod(input_shape), out=1, input_shape=input_shape, **options)
    assert info.value.option == option


@pytest.mark.parametrize(
    ("model", "input_shape", "dataset", "out", "match"),
    [
        ("transformer", (4, 4), None, 3, r"inputs of shape \(T,\)"),
        ("transformer", (4,), SimpleNamespace(name="digits", input_kind="values"), 3, "needs token sequences"),
        ("mf", (3,), pairs(2, 2), 1, r"shape \(2,\)"),
        ("mf", (2,), pairs(2, 2), 5, "one value per pair"),
    ],
)
def test_datasets_a_model_cannot_take(model, input_shape, dataset, out, match) -> None:
    with pytest.raises(ValueError, match=match):
        build_model(model, n_features=math.prod(input_shape), out=out, input_shape=input_shape, dataset=dataset)


def test_a_real_dataset_info_drives_the_transformer_and_mf() -> None:
    from initopt.data.types import DatasetInfo

    if "input_kind" not in DatasetInfo.__dataclass_fields__:
        pytest.skip("DatasetInfo has no input_kind yet")
    lm = DatasetInfo.create("lm", "multiclass", (10,), 8, 2, "toy", n_classes=30, input_kind="tokens",
                            vocab_size=30, target_shape=(10,))
    model = build_model("transformer", n_features=10, out=lm.output_dim, input_shape=lm.input_shape, dataset=lm)
    assert tuple(model(torch.randint(0, 30, (2, 10))).shape) == (2, 10, 30) and model.context == 10
    ratings = DatasetInfo.create("r", "regression", (2,), 8, 2, "toy", input_kind="pairs", n_users=7, n_items=9)
    mf = build_model("mf", n_features=2, out=1, input_shape=(2,), dataset=ratings)
    assert (mf.user.num_embeddings, mf.item.num_embeddings) == (7, 9)


# -- parameter counts: the architecture written out ---------------------------------------------------
def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("batchnorm", [True, False])
def test_cnn2d_parameter_count(batchnorm: bool) -> None:
    c_in, width, depth, out = 3, 16, 3, 10
    model = CNN2d((c_in, 32, 32), out, [width] * depth, batchnorm)
    per_block_extra = 2 * width if batchnorm else width  # BatchNorm's scale and shift, or the conv bias
    expected = (c_in * width * 9 + (depth - 1) * width * width * 9) + depth * per_block_extra + width * out + out
    assert _count(model) == expected


@pytest.mark.parametrize(("layers", "d"), [(1, 16), (2, 64), (4, 32)])
def test_transformer_parameter_count(layers: int, d: int) -> None:
    vocab, context, out = 50, 12, 40
    model = Transformer(vocab, out, context, d_model=d, layers=layers, heads=4)
    # per block: 2 LayerNorms (2d each), qkv (3d^2 + 3d), proj (d^2 + d), fc (4d^2 + 4d), proj (4d^2 + d)
    per_block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
    assert per_block == 12 * d * d + 13 * d
    assert _count(model) == vocab * d + context * d + layers * per_block + 2 * d + d * out + out


def test_mf_parameter_count() -> None:
    assert _count(MatrixFactorization(10, 20, dim=8)) == (10 + 20) * 8 + 10 + 20 + 1


# -- the transformer: causal, batch-size free, bundle-friendly -----------------------------------------
def _lm(per_token: bool = True, dropout: float = 0.0) -> Transformer:
    torch.manual_seed(0)
    return Transformer(vocab_size=13, out=13, context=10, d_model=32, layers=2, heads=4, dropout=dropout,
                       per_token=per_token).eval()


def test_attention_is_causal() -> None:
    model = _lm()
    x = torch.randint(0, 13, (3, 10))
    changed = x.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 13
    with torch.no_grad():
        a, b = model(x), model(changed)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_outputs_do_not_depend_on_the_batch_or_its_size() -> None:
    model = _lm(per_token=False)
    x = torch.randint(0, 13, (7, 10))
    with torch.no_grad():
        whole_batch = model(x)
        one_by_one = torch.cat([model(x[i : i + 1]) for i in range(7)])
        shorter = model(x[:2, :5])  # a shorter sequence than the context is fine
    torch.testing.assert_close(whole_batch, one_by_one, rtol=1e-5, atol=1e-6)
    assert tuple(shorter.shape) == (2, 13)
    with pytest.raises(ValueError, match="longer than the context"):
        model(torch.zeros(1, 11, dtype=torch.long))


@pytest.mark.parametrize("model", [_lm(), MatrixFactorization(5, 6, 4)], ids=["transformer", "mf"])
def test_every_parameter_lives_in_a_linear_embedding_or_layernorm(model: nn.Module) -> None:
    allowed = (nn.Linear, nn.Embedding, nn.LayerNorm)
    for name, module in model.named_modules():
        own = list(module.parameters(recurse=False))
        assert not own or isinstance(module, allowed), f"{name or '(root)'} ({type(module).__name__}) owns parameters"


def test_positions_are_looked_up_with_a_batch_shaped_index() -> None:
    model = _lm()
    seen: list[tuple[int, ...]] = []
    model.pos.register_forward_hook(lambda module, args, output: seen.append(tuple(args[0].shape)))
    model(torch.randint(0, 13, (4, 9)))
    assert seen == [(4, 9)]


def test_the_two_residual_projections_per_block_are_marked() -> None:
    model = _lm()
    marked = [name for name, m in model.named_modules() if ii.is_residual_projection(name, m)]
    assert marked == ["blocks.0.attn.proj", "blocks.0.mlp.proj", "blocks.1.attn.proj", "blocks.1.mlp.proj"]
    assert [m for m in model.modules() if isinstance(m, nn.Dropout)]  # dropout lives in modules


# -- a few fit steps reduce the loss --------------------------------------------------------------------
def _fit_losses(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: Any, epochs: int, lr: float, batch_size: int = 32
) -> list[float]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    history = initopt.fit(model, optimizer, (x, y), loss=loss, metrics=(), epochs=epochs, batch_size=batch_size, verbose=0)
    assert not history.diverged
    return history.history["loss"]


def test_cnn2d_fits_a_tiny_image_problem() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(128, 1, 8, 8, generator=generator)
    y = (x[:, :, :4].mean(dim=(1, 2, 3)) > x[:, :, 4:].mean(dim=(1, 2, 3))).long()  # top half brighter?
    model = build_model("cnn2d", n_features=64, out=2, input_shape=(1, 8, 8), channels=8)
    ii.initialize(model, "he_normal", seed=0)
    losses = _fit_losses(model, x, y, "cross_entropy", epochs=6, lr=1e-2)
    assert losses[-1] < 0.7 * losses[0]


def test_transformer_fits_modular_addition_and_a_per_token_task() -> None:
    p = 7
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    x = torch.stack([a.flatten(), b.flatten(), torch.full((p * p,), p)], 1)  # [a, b, =]
    y = (x[:, 0] + x[:, 1]) % p
    model = build_model("transformer", n_features=3, out=p, input_shape=(3,), dataset=tokens(p + 1), d_model=32, heads=2)
    ii.initialize(model, "gpt2", seed=0)
    # full batches: the loss sits on a plateau near log(p) for ~20 steps before the table is memorized
    losses = _fit_losses(model, x, y, "cross_entropy", epochs=80, lr=3e-3, batch_size=len(x))
    assert losses[-1] < 0.5 * losses[0]

    # per token: predict each position's own token (an identity map through attention and the MLP)
    seq = torch.randint(0, 11, (64, 8), generator=torch.Generator().manual_seed(1))
    lm = build_model("transformer", n_features=8, out=11, input_shape=(8,), dataset=tokens(11, (8,)), d_model=32)
    ii.initialize(lm, "gpt2", seed=0)

    def per_token_ce(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output.reshape(-1, output.size(-1)), target.reshape(-1))

    losses = _fit_losses(lm, seq, seq, per_token_ce, epochs=8, lr=3e-3, batch_size=8)
    assert losses[-1] < 0.5 * losses[0]


def test_mf_fits_low_rank_ratings() -> None:
    generator = torch.Generator().manual_seed(0)
    users, items = torch.randn(20, 2, generator=generator), torch.randn(30, 2, generator=generator)
    pairs_ = torch.cartesian_prod(torch.arange(20), torch.arange(30))
    ratings = (users[pairs_[:, 0]] * items[pairs_[:, 1]]).sum(1) + 0.5
    model = build_model("mf", n_features=2, out=1, input_shape=(2,), dataset=pairs(20, 30), dim=4)
    ii.initialize(model, "he_normal", seed=0)
    losses = _fit_losses(model, pairs_, ratings, "mse", epochs=6, lr=3e-2)
    assert losses[-1] < 0.5 * losses[0]


# -- user factories get the dataset when they name it ---------------------------------------------------
def factory_with_dataset(n_features: int, out: int, dataset: Any = None, **options: Any) -> nn.Module:
    return nn.Embedding(dataset.vocab_size, out)


def factory_without_dataset(n_features: int, out: int, **options: Any) -> nn.Module:
    assert "dataset" not in options  # an older factory passing **options on is not handed a new keyword
    return nn.Linear(n_features, out)


def test_a_user_factory_gets_the_dataset_only_when_it_names_it() -> None:
    model = build_model(f"{__name__}:factory_with_dataset", n_features=3, out=4, dataset=tokens(9))
    assert model.num_embeddings == 9
    assert isinstance(build_model(f"{__name__}:factory_without_dataset", n_features=3, out=4, dataset=tokens(9)), nn.Linear)
