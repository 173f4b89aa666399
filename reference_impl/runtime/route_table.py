"""The proxy's route table: longest route prefix wins, matched on path segments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Match", "RouteTable"]

T = TypeVar("T")


@dataclass(frozen=True)
class Match(Generic[T]):
    prefix: str
    target: T


class RouteTable(Generic[T]):
    """Maps route prefixes to targets. Written from API threads, read by the proxy.

    Writers replace the sorted tuple whole, so the proxy reads it without a lock.
    `populated` turns true when the first route is set, as Ray's proxy gets its route
    table only with the first app that has a route (until then its health checks answer
    503); it stays true when routes are removed again.
    """

    def __init__(self) -> None:
        self._targets: dict[str, T] = {}
        self._ordered: tuple[Match[T], ...] = ()
        self.populated = False

    def set(self, prefix: str, target: T) -> None:
        self._targets[prefix] = target
        self._reorder()
        self.populated = True

    def remove(self, prefix: str) -> None:
        self._targets.pop(prefix, None)
        self._reorder()

    def get(self, prefix: str) -> T | None:
        return self._targets.get(prefix)

    def _reorder(self) -> None:
        # Matches are immutable: build them once here, not per request.
        ordered = sorted(self._targets.items(), key=lambda kv: -len(kv[0]))
        self._ordered = tuple(Match(prefix, target) for prefix, target in ordered)

    def match(self, path: str) -> Match[T] | None:
        # NOTE: `/a/bc` belongs to `/a`, not `/a/b`, and matching is case-sensitive,
        # as measured on Ray 2.60 (docs/reference-impl.md).
        for match in self._ordered:
            prefix = match.prefix
            if prefix == "/" or path == prefix or path.startswith(prefix + "/"):
                return match
        return None

    def items(self) -> list[tuple[str, T]]:
        return list(self._targets.items())
