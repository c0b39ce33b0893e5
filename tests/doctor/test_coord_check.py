"""The coordinate check's verdicts: SP's hidden and output coordinates grow with width under Adam, muP's stay."""

import math

import pytest
import torch
from torch import nn

from initopt.doctor.coord_check import SLOPE, LayerTrend, _slope, coord_check
from initopt.models.mlp import mlp
from initopt.models.transformer import Transformer

WIDTHS = (32, 128, 512)


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 20, generator=g)
    return x, (x[:, :5].sum(1) > 0).long() + 2 * (x[:, 5] > 0).long()


def check(parametrization, batch, build=lambda w: mlp(20, [w, w], 4), **kwargs):
    return coord_check(build, WIDTHS, *batch, nn.functional.cross_entropy, parametrization=parametrization,
                       base_width=WIDTHS[0], steps=5, **kwargs)


def test_sp_names_the_layers_that_grow_and_mup_none(batch):
    sp, mup = check("sp", batch), check("mup", batch)
    assert {layer.name for layer in sp.unstable} >= {"2 (Linear)", "4 (Linear)"}  # a hidden layer and the head
    assert all(layer.verdict == "grows" for layer in sp.unstable)
    assert mup.unstable == []
    head = next(layer for layer in sp.layers if layer.name == "4 (Linear)")
    assert sorted(head.sizes) == list(WIDTHS) and all(len(s) == 6 for s in head.sizes.values())  # steps 0..5


def test_transformer_under_mup_is_stable_with_the_scheme_known(batch):
    tokens = torch.randint(0, 16, (64, 8), generator=torch.Generator().manual_seed(1))
    result = coord_check(lambda w: Transformer(16, 16, 8, d_model=w, layers=1, heads=2), (32, 128), tokens,
                         tokens[:, -1], nn.functional.cross_entropy, parametrization="mup", base_width=32, steps=3)
    assert [layer.name for layer in result.unstable] == []


def test_slope_and_verdicts():
    assert _slope([10, 100, 1000], [1.0, 10.0, 100.0]) == pytest.approx(1.0)
    assert _slope([10, 100], [2.0, 2.0]) == pytest.approx(0.0)
    assert math.isnan(_slope([10, 100], [1.0, math.inf]))
    verdict = lambda slope: LayerTrend("x", {}, slope).verdict  # noqa: E731
    assert (verdict(SLOPE + 0.01), verdict(-SLOPE - 0.01), verdict(0.0), verdict(math.nan)) == \
           ("grows", "shrinks", "stable", "non-finite")
    with pytest.raises(ValueError, match="two widths or more"):
        coord_check(lambda w: mlp(2, [w], 1), [8], torch.zeros(2, 2), torch.zeros(2), nn.functional.mse_loss,
                    parametrization="sp", base_width=8)


def test_cli_coord_check(cli):
    done = cli("doctor", "--coord-check", "--model", "mlp", "--hidden", "32,32", "--widths", "32,128,512",
               columns=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-2].startswith("sp: ") and "4 (Linear) (grows" in lines[-2]  # the head
    assert lines[-1] == "mup: every layer's coordinates stay the same size across widths 32-512"
    bad = cli("doctor", "--coord-check", "--widths", "64")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "initopt: error: --widths: the coordinate check needs two widths or more, got '64'"
