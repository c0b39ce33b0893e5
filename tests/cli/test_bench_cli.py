"""``initopt bench optim`` in a real subprocess: the table, and one-line errors for bad options."""

from __future__ import annotations

import re

import pytest

from initopt.bench.optim import CPU_MAX_PARAMS, CPU_MAX_TENSORS, SHAPES, paths, plan, shapes_for


def test_bench_optim_prints_every_path_against_pytorch_fused(cli):
    result = cli("bench", "optim", "--shapes", "tiny", "--device", "cpu", "--repeat", "1", "--warmup", "0")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    for label in ("for-loop", "foreach", "PyTorch fused", "initopt fused", "bfloat16 state"):
        assert label in out
    assert "1.00x" in out  # PyTorch fused against itself
    assert "16 tensors" in out and "copy bandwidth" in out
    assert re.match(r"timing AdamW: tiny on cpu \(1 thread\): 16 tensors", out), out  # said before it starts
    assert "6 paths x 5 steps" in out  # --warmup 0 --repeat 1: 1 synced, 3 rounds x 1 back to back, 1 host
    assert result.stderr.startswith("[bench] 0/6 paths") and "[bench] 6/6 paths" in result.stderr, result.stderr
    assert max(map(len, result.stdout.splitlines()[:-1])) <= 80 and "…" not in result.stdout  # the last: a note


@pytest.mark.parametrize("name", SHAPES)
def test_on_the_cpu_every_set_is_cut_to_seconds(name):
    """Each set's first tensors, their first dimension divided: about a million parameters, few steps."""
    plan_ = plan(name, "cpu")
    assert len(plan_.shapes) == min(len(shapes_for(name)), CPU_MAX_TENSORS)
    assert plan_.params <= 1.1 * CPU_MAX_PARAMS and plan_.steps.per_path <= 12
    assert plan(name, "cuda").shapes == shapes_for(name) and plan(name, "cpu", full_size=True).shapes == shapes_for(name)
    assert re.search(rf"on cpu \({plan_.threads} threads?\)", plan_.describe())


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
