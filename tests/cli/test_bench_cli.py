"""``initopt bench optim`` in a real subprocess: the table, and one-line errors for bad options."""

from __future__ import annotations

import pytest

from initopt.bench.optim import paths, shapes_for


def test_bench_optim_prints_every_path_against_pytorch_fused(cli):
    result = cli("bench", "optim", "--shapes", "tiny", "--device", "cpu", "--repeat", "1", "--warmup", "0")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    for label in ("for-loop", "foreach", "PyTorch fused", "initopt fused", "bfloat16 state"):
        assert label in out
    assert "1.00x" in out  # PyTorch fused against itself
    assert "16 tensors" in out and "copy bandwidth" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--shapes", "huge"], "--shapes must be one of"),
    (["--shapes", "tiny", "--device", "tpu"], "--device must be cuda or cpu"),
    (["--shapes", "tiny", "--repeat", "0"], "--repeat"),
])  # fmt: skip
def test_bad_options_give_one_line_and_exit_code_2(cli, args, message):
    result = cli("bench", "optim", *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_gpt2_shapes_have_the_published_sizes():
    small = shapes_for("gpt2-124m")
    medium = shapes_for("gpt2-350m")
    assert (len(small), sum(_numel(s) for s in small)) == (148, 124_439_808)
    assert (len(medium), sum(_numel(s) for s in medium)) == (292, 354_823_168)
    assert len(shapes_for("many-small")) == 4096
    assert [label for label, _, _ in paths(None)][2] == "PyTorch fused"


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n
