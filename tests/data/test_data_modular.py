"""The built-in modular-addition (Power et al. 2022): tokens, targets, the seeded split and its options."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import initopt.data
from initopt.data import DataError, OptionError, loader
from initopt.data.modular import make_modular_addition


def test_defaults_p97_and_a_40_percent_split():
    train, test = initopt.data.load("modular-addition")
    info = train.info
    assert (info.task, info.input_kind, info.vocab_size, info.n_classes, info.output_dim) == ("multiclass", "tokens", 98, 97, 97)
    assert (info.input_shape, info.target_shape, info.default_loss, info.default_metric) == ((3,), (), "cross_entropy", "accuracy")
    assert (info.n_train, info.n_test) == (round(0.4 * 97**2), 97**2 - round(0.4 * 97**2))
    for split in (train, test):
        assert split.x.dtype == torch.int64 and split.y.dtype == torch.int64 and split.scaler is None
        a, b, eq = split.x.unbind(1)
        assert (eq == 97).all() and a.max() < 97 and b.max() < 97 and a.min() >= 0
        assert torch.equal(split.y, (a + b) % 97)


def test_every_equation_is_in_exactly_one_part():
    train, test = initopt.data.load("modular-addition", p=11, train_fraction=0.5)
    pairs = torch.cat([train.x, test.x])[:, :2]
    codes = (pairs[:, 0] * 11 + pairs[:, 1]).sort().values
    assert torch.equal(codes, torch.arange(121))
    assert (len(train), len(test)) == (60, 61)  # round(60.5) is 60: Python rounds half to even


def test_the_split_is_seeded_and_reproducible():
    first = make_modular_addition(p=13, seed=3)
    again = make_modular_addition(p=13, seed=3)
    other = make_modular_addition(p=13, seed=4)
    assert np.array_equal(first.x, again.x) and np.array_equal(first.y_test, again.y_test)
    assert not np.array_equal(first.x, other.x)
    loader.clear_cache()
    assert torch.equal(initopt.data.load("modular-addition", p=13, seed=3).train.x, torch.from_numpy(first.x))


def test_options_key_the_cache_and_defaults_name_the_same_data():
    default = initopt.data.load("modular-addition")
    assert initopt.data.load("modular-addition", p=97, train_fraction=0.4, seed=0) is default
    assert initopt.data.load("Modular_Addition", p=97.0) is default  # a whole float is the int
    assert initopt.data.load("modular-addition", p=7).info.vocab_size == 8


def test_options_of_lists_the_declared_options():
    assert [o.name for o in initopt.data.options_of("modular-addition")] == ["p", "train_fraction", "seed"]
    assert initopt.data.options_of("digits") == ()


@pytest.mark.parametrize(
    "options, option, fragment",
    [
        ({"p": 1}, "p", "option 'p': must be in [2, 1000], got 1"),
        ({"p": 2.5}, "p", "option 'p': expected a whole number in [2, 1000], got 2.5"),
        ({"p": "97"}, "p", "expected a whole number"),
        ({"train_fraction": 1.0}, "train_fraction", "must be in (0, 1), got 1.0"),
        ({"train_fraction": float("nan")}, "train_fraction", "expected a finite number"),
        ({"seed": -1}, "seed", "must be >= 0"),
        ({"q": 3}, "q", "dataset 'modular-addition' has no option 'q' valid: p, train_fraction, seed"),
        ({"trainfraction": 0.5}, "trainfraction", "did you mean 'train_fraction'?"),
    ],
)
def test_bad_options_name_the_option(options, option, fragment):
    with pytest.raises(OptionError) as err:
        initopt.data.load("modular-addition", **options)
    assert err.value.option == option and fragment in str(err.value)


def test_a_dataset_without_options_refuses_any():
    with pytest.raises(OptionError, match="dataset 'digits' takes no options, got 'p'"):
        initopt.data.load("digits", p=3)


def test_a_fraction_that_leaves_a_part_empty():
    with pytest.raises(DataError, match="leaves an empty training part"):
        initopt.data.load("modular-addition", p=2, train_fraction=0.1)
    with pytest.raises(DataError, match="leaves an empty test part"):
        initopt.data.load("modular-addition", p=2, train_fraction=0.9)
