"""Mutable named state for the kernels: Numba structrefs of int64/bool fields and arrays."""
from __future__ import annotations

from types import SimpleNamespace

from numba import config
from numba.experimental import structref

if config.DISABLE_JIT:       # pure Python (coverage runs): any attribute bag will do
    def new_struct(struct_type):
        return SimpleNamespace()
else:                         # jitted code calls structref.new itself
    new_struct = structref.new
