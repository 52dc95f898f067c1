"""A bounded least-recently-used mapping: engines per network, views per output selection, plans
and choices of the incremental path are each kept this way, so memory stays bounded however many
networks, selections or grids a session uses."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["KeptCache"]

Key = TypeVar("Key")
Value = TypeVar("Value")


class KeptCache(OrderedDict[Key, Value], Generic[Key, Value]):
    """A mapping that keeps at most ``bound`` entries, dropping the least recently used."""

    def __init__(self, bound: int) -> None:
        super().__init__()
        self.bound = bound

    def kept(self, key: Key, build: Callable[[], Value]) -> Value:
        """The value for ``key``, built once and then reused while it stays among the kept."""
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = build()
        self[key] = value
        return value

    def __setitem__(self, key: Key, value: Value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.bound:
            self.popitem(last=False)
