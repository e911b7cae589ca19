"""Registries one decorator away: dataflows, energy estimators, layer builders.

Third-party packages add entries through the `accelsim.plugins` entry-point group,
whose modules register themselves on import.
"""
from __future__ import annotations

from importlib.metadata import entry_points


class Registry:
    def __init__(self, what: str):
        self.what = what
        self._items: dict = {}

    def register(self, name: str):
        def add(obj):
            if name in self._items:
                raise ValueError(f"{self.what} '{name}' is registered twice")
            self._items[name] = obj
            return obj
        return add

    def get(self, name: str):
        load_plugins()
        if name not in self._items:
            raise KeyError(name)
        return self._items[name]

    def names(self) -> list[str]:
        load_plugins()
        return sorted(self._items)

    def __contains__(self, name) -> bool:
        load_plugins()
        return name in self._items


_plugins_loaded = False


def load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group="accelsim.plugins"):
        ep.load()
