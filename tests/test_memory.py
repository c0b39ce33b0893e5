"""Freed CPU memory kept by glibc's malloc for the next step (initopt.memory)."""

from __future__ import annotations

import ctypes
import ctypes.util

import pytest
import torch

from initopt import memory


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]


def _libc():
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is None or not hasattr(libc, "mallinfo2"):
        pytest.skip("needs glibc 2.33 or later (mallinfo2)")
    libc.mallinfo2.restype = _MallInfo2
    return libc


def test_a_freed_activation_sized_block_stays_in_the_heap_for_reuse():
    libc = _libc()
    assert memory.keep_freed_memory()
    before = libc.mallinfo2()
    block = torch.ones(2 << 20)  # 8 MB, as a step's activations: glibc alone would mmap it and give it back
    during = libc.mallinfo2()
    del block
    after = libc.mallinfo2()
    assert during.hblkhd == before.hblkhd  # from the heap, not a mapping of its own
    assert after.fordblks - during.fordblks >= 8 << 20  # freed into the heap, kept there


def test_initopt_malloc_default_leaves_glibc_as_it_is(monkeypatch):
    monkeypatch.setattr(memory, "_done", None)
    monkeypatch.setenv("INITOPT_MALLOC", "default")
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: pytest.fail("libc was opened"))
    assert memory.keep_freed_memory() is False
    assert memory.keep_freed_memory() is False  # once per process: asked again, the same answer
