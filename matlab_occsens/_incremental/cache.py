"""What the incremental path derives from a network, kept per network and output selection.

The analysed graph, the chunk and suffix engines, the probes of crop sizes, the plans of the
grids seen lately and the measured choice of "auto" are expensive to derive and depend only on
the network and its selected output (plans and choices also on the grid). They are kept here,
not on the network: the network object does not know what the incremental path needs. The
network is held weakly, so dropping it frees everything derived from it; the per-grid entries
are bounded (least recently used first out), so a session that tries many grids does not grow.
A refusal (:class:`Unsupported`) is kept like a value, so that "auto" does not pay for the same
refusal on every call.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TypeVar

from .._backends.engine import Engine
from .._core.grid import MaskGrid
from .._utils.kept_cache import KeptCache
from ..network._base import Network
from .graph import SpatialGraph, Unsupported
from .plan import Plan

__all__ = ["Choice", "Derived", "GridKey", "derived", "grid_key"]

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")

PLANS_KEPT = 8
"""Grids whose plans (and measured choices) are kept per output selection."""
SELECTIONS_KEPT = 4
"""Output selections kept per network (a layer sweep moves on; its old layers are not needed)."""


@dataclass(frozen=True)
class GridKey:
    """A grid's identity: its covered ranges per axis (the mask value and image do not matter)."""

    axes: tuple[bytes, ...]


def grid_key(grid: MaskGrid) -> GridKey:
    return GridKey(tuple(ranges.tobytes() for ranges in grid.axes))


@dataclass
class Choice:
    """What "auto" measured for one grid: seconds per mask on each path, and the calls since."""

    ordinary: float
    incremental: float
    interval: int
    """Calls to follow it before it is measured again (see :mod:`.auto`)."""
    calls: int = 0
    """Calls that followed this choice without measuring again."""

    @property
    def incremental_wins(self) -> bool:
        return self.incremental < self.ordinary


@dataclass(frozen=True)
class PlanKey:
    grid: GridKey
    batch_size: int
    forced: bool


def _kept(store: dict[Key, Value | Unsupported], key: Key, build: Callable[[], Value]) -> Value:
    """``store[key]``, built once; an :class:`Unsupported` raised by ``build`` is kept and raised again."""
    if key not in store:
        try:
            store[key] = build()
        except Unsupported as reason:
            store[key] = reason
    value = store[key]
    if isinstance(value, Unsupported):
        raise value
    return value


@dataclass
class Derived:
    """Everything derived from one network with one output selection."""

    graph: SpatialGraph | Unsupported | None = None
    chunk_engines: dict[tuple[str, str], Engine | Unsupported] = field(default_factory=dict)
    """Per chunk (first cut, last cut): its engine; one engine serves every crop size."""
    probes: dict[tuple[str, str, tuple[int, ...]], None | Unsupported] = field(default_factory=dict)
    """Per chunk and crop size (each axis's crop length, then each axis's output length): whether
    it ran as planned."""
    suffix_engines: dict[str, Engine | None | Unsupported] = field(default_factory=dict)
    """Per cut the suffix starts from: its engine (None when the cut is the selected output)."""
    plans: KeptCache[PlanKey, Plan] = field(default_factory=lambda: KeptCache(PLANS_KEPT))
    choices: KeptCache[tuple[GridKey, int], Choice] = field(default_factory=lambda: KeptCache(PLANS_KEPT))
    """Per grid and batch size: what "auto" measured."""

    def spatial_graph(self, build: Callable[[], SpatialGraph]) -> SpatialGraph:
        if self.graph is None:
            try:
                self.graph = build()
            except Unsupported as reason:
                self.graph = reason
        if isinstance(self.graph, Unsupported):
            raise self.graph
        return self.graph

    def chunk_engine(self, first: str, last: str, build: Callable[[], Engine]) -> Engine:
        return _kept(self.chunk_engines, (first, last), build)

    def probe(self, key: tuple[str, str, tuple[int, ...]], run: Callable[[], None]) -> None:
        _kept(self.probes, key, run)

    def suffix_engine(self, cut: str, build: Callable[[], Engine | None]) -> Engine | None:
        return _kept(self.suffix_engines, cut, build)

    def plan(self, key: PlanKey, build: Callable[[], Plan]) -> Plan:
        return self.plans.kept(key, build)


_DERIVED: weakref.WeakKeyDictionary[Network, KeptCache[tuple[str, ...], Derived]] = weakref.WeakKeyDictionary()


def derived(net: Network) -> Derived:
    """What the incremental path has derived from ``net`` with its current ``OutputNames``."""
    selections = _DERIVED.get(net)
    if selections is None:
        selections = _DERIVED[net] = KeptCache(SELECTIONS_KEPT)
    return selections.kept(tuple(net.OutputNames), Derived)
