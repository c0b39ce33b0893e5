"""The Triton kernels compiled ahead of time for an H100 (sm_90), on any machine: what Triton's CPU
interpreter cannot check (the GPU compiler's type rules, the fp64 loop, the alignment hints) is
checked on every CI run. Triton's wheel carries ptxas; no GPU and no CUDA driver are needed."""

from __future__ import annotations

import importlib.util
import os
import re
from collections import Counter
from pathlib import Path

import pytest

triton = pytest.importorskip("triton")
tl = pytest.importorskip("triton.language")

try:
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
except ImportError:  # pragma: no cover - an older Triton without this API
    pytest.skip("this Triton has no ahead-of-time compile API", allow_module_level=True)

H100 = GPUTarget("cuda", 90, 32)


def _compiled_kernels():
    """A copy of ``initopt.optim._triton.kernels`` made with the interpreter off. ``@triton.jit``
    picks the interpreter when the module is executed, and other test modules import the kernels
    under ``TRITON_INTERPRET=1``; a fresh copy under its own name leaves theirs alone."""
    import initopt.optim._triton as package

    path = Path(package.__file__).with_name("kernels.py")
    spec = importlib.util.spec_from_file_location("initopt_kernels_compiled", path)
    module = importlib.util.module_from_spec(spec)
    before = os.environ.pop("TRITON_INTERPRET", None)
    try:
        spec.loader.exec_module(module)
    finally:
        if before is not None:
            os.environ["TRITON_INTERPRET"] = before
    return module


kernels = _compiled_kernels()


def compile_kernel(kernel, *, scaled: bool = False, **constexprs):
    names = list(kernel.arg_names)
    types = {"blocks_ptr": "*i64", "tensors_ptr": "*i64"}
    for name in names:
        if name.endswith("_stride"):
            types[name] = "i32"
        elif name.endswith("_ptr") and name not in types and name not in ("grad_scale_ptr", "found_inf_ptr"):
            types[name] = "*fp64"  # the per-configuration hyperparameter columns
    if scaled:
        types.update(grad_scale_ptr="*fp32", found_inf_ptr="*fp32")
    else:
        constexprs.update(grad_scale_ptr=None, found_inf_ptr=None)
    constexprs.update(HAS_GRAD_SCALE=scaled, HAS_FOUND_INF=scaled, MAXIMIZE=False, BLOCK=2048)
    signature = {name: types.get(name, "constexpr") for name in names}
    source = ASTSource(fn=kernel, signature=signature, constexprs={(names.index(k),): v for k, v in constexprs.items()})
    return triton.compile(source, target=H100, options={"num_warps": 4})


def global_memory_ops(ptx: str) -> Counter:
    return Counter(re.findall(r"(?:ld|st)\.global[\w.]*", ptx))


VARIANTS = {
    "adamw float32": (kernels.adam_kernel, dict(P_DTYPE=tl.float32, G_DTYPE=tl.float32, S_DTYPE=tl.float32,
                                                AMSGRAD=False, KAHAN=False)),
    "adam bfloat16 state, amsgrad, AMP": (kernels.adam_kernel, dict(P_DTYPE=tl.float32, G_DTYPE=tl.float32,
                                                                    S_DTYPE=tl.bfloat16, AMSGRAD=True, KAHAN=False), True),
    "adamw bfloat16 params, Kahan": (kernels.adam_kernel, dict(P_DTYPE=tl.bfloat16, G_DTYPE=tl.bfloat16,
                                                               S_DTYPE=tl.bfloat16, AMSGRAD=False, KAHAN=True)),
    "sgd nesterov float16": (kernels.sgd_kernel, dict(P_DTYPE=tl.float16, G_DTYPE=tl.float16, S_DTYPE=tl.float16,
                                                      MOMENTUM=True, FIRST_STEP=False, NESTEROV=True, KAHAN=False)),
    "sgd first step float32": (kernels.sgd_kernel, dict(P_DTYPE=tl.float32, G_DTYPE=tl.float32, S_DTYPE=tl.float32,
                                                        MOMENTUM=True, FIRST_STEP=True, NESTEROV=False, KAHAN=False)),
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("aligned", [True, False])
def test_kernels_compile_for_an_h100(variant, aligned):
    kernel, constexprs, *scaled = VARIANTS[variant]
    compiled = compile_kernel(kernel, scaled=bool(scaled and scaled[0]), ALIGNED=aligned, **constexprs)
    assert len(compiled.asm["cubin"]) > 0
    ops = global_memory_ops(compiled.asm["ptx"])
    vector = sum(n for op, n in ops.items() if ".v4." in op)
    # aligned tables promise 16-byte addresses and 16-element block bounds: every element access
    # becomes a 128-bit load or store; unaligned ones stay scalar
    assert (vector > 0) == aligned, ops


@pytest.mark.parametrize("amp", [False, True])
def test_the_step_counting_kernel_compiles_for_an_h100(amp):
    signature = {"tensors_ptr": "*i64", "count": "i32", "found_inf_ptr": "*fp32" if amp else "constexpr",
                 "HAS_FOUND_INF": "constexpr", "BLOCK": "constexpr"}
    constexprs = {"HAS_FOUND_INF": amp, "BLOCK": 1024} | ({} if amp else {"found_inf_ptr": None})
    names = list(kernels.count_steps_kernel.arg_names)
    source = ASTSource(fn=kernels.count_steps_kernel, signature=signature,
                       constexprs={(names.index(k),): v for k, v in constexprs.items()})
    compiled = triton.compile(source, target=H100, options={"num_warps": 4})
    assert len(compiled.asm["cubin"]) > 0


def test_aligned_adamw_moves_every_element_in_128_bit_accesses():
    """float32 AdamW, 2048 elements and 128 threads per program: each thread reads 16 elements of
    parameter, gradient and both moments as 4 x 128 bits each, and writes 3 of them back the same way."""
    compiled = compile_kernel(kernels.adam_kernel, ALIGNED=True, P_DTYPE=tl.float32, G_DTYPE=tl.float32,
                              S_DTYPE=tl.float32, AMSGRAD=False, KAHAN=False)
    ops = global_memory_ops(compiled.asm["ptx"])
    assert ops["ld.global.v4.b32"] == 4 * 4
    assert ops["st.global.v4.b32"] == 3 * 4
