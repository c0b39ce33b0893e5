"""initopt's Triton kernels for Adam/AdamW and SGD (optional: ``pip install 'initopt[gpu]'``).

They run on CUDA tensors, and on CPU tensors when ``TRITON_INTERPRET=1`` is set before the first
use (Triton's interpreter: slow, for tests of the kernels' logic). Everything else in initopt works
without Triton; :func:`usable` says whether a list of tensors can go to the kernels.
"""

from __future__ import annotations

import functools
import importlib.util
import operator
import os
from collections.abc import Sequence
from types import ModuleType

from torch import Tensor

INTERPRET_ENV = "TRITON_INTERPRET"
_IS_CUDA = operator.attrgetter("is_cuda")
_IS_CPU = operator.attrgetter("is_cpu")


@functools.cache
def installed() -> bool:
    return importlib.util.find_spec("triton") is not None


def interpreting() -> bool:
    """Triton's interpreter is on (read when the kernels are first imported)."""
    return os.environ.get(INTERPRET_ENV, "0") not in ("", "0")


def usable(tensors: Sequence[Tensor]) -> bool:
    """The kernels can update ``tensors``: Triton installed, and all on CUDA, or on the CPU under
    the interpreter."""
    if not tensors or not installed():
        return False
    first = tensors[0].device.type
    if first == "cpu" and not interpreting() or first not in ("cpu", "cuda"):
        return False  # the common CPU case decided without walking the list
    # attribute reads, not device objects: a step over thousands of tensors checks this every time
    return all(map(_IS_CUDA, tensors)) if first == "cuda" else all(map(_IS_CPU, tensors))


def why_not(tensors: Sequence[Tensor]) -> str:
    """The reason :func:`usable` is False, for an error message."""
    if not installed():
        return "Triton is not installed (pip install 'initopt[gpu]')"
    kinds = sorted({t.device.type for t in tensors})
    if kinds == ["cpu"]:
        return f"the tensors are on the CPU (set {INTERPRET_ENV}=1 to run the kernels in Triton's interpreter)"
    return f"the kernels run on CUDA tensors, not on {', '.join(kinds)}"


def load() -> ModuleType:
    """The launch functions (:mod:`initopt.optim._triton.launch`); imports Triton."""
    from . import launch

    return launch
