"""Performance models: what turns a mapped, counted layer into cycles.

The counting core (counting/) gives every model the same action counts; a performance model
decides the layer's cycles from them, the lowered nest and the layer. Contract of a model:

  name                     its registry key (`--model NAME`)
  check(arch, options)     raise SpecError when it cannot run this arch under these options
                           (e.g. a counting convention it does not implement); once per run
  layer_cycles(arch, layer, nest, counts) -> (cycles, extra)
                           the layer's cycles, and what it records under the layer's result
                           (a dict of JSON-able values); it never changes the counts

Adding a model: one module that defines it and registers it with
`PERFORMANCE_MODELS.register(name)`, and that module in the import line at the bottom.
"""
from __future__ import annotations

from ..errors import SpecError
from ..registry import Registry

PERFORMANCE_MODELS = Registry("performance model")


class PerformanceModel:
    """The interface (see the module docstring); a model overrides what it needs."""

    name = "?"

    @staticmethod
    def check(arch, options) -> None:
        """Raise SpecError if this model cannot run the arch under the options (default: it can)."""

    @staticmethod
    def layer_cycles(arch, layer, nest, counts) -> tuple[int, dict]:
        raise NotImplementedError


def performance_model(name: str):
    if name not in PERFORMANCE_MODELS:
        raise SpecError(f"unknown model '{name}'; choose from {', '.join(PERFORMANCE_MODELS.names())}")
    return PERFORMANCE_MODELS.get(name)


from . import analytical, cycle, scalesim  # noqa: E402,F401  (the built-in models register themselves)
