"""Observations: the figures a test measured, with units, kept for the report.

A test records what it measured against its clause:

    serve_observe.record("idle close after", 5.01, "s", expected="5 s")

The `serve_observe` fixture stores each record in the test's `user_properties`, which
pytest-xdist carries from its workers to the controller and `--junitxml` writes as
properties; the certification report shows them per test and, as one headline figure,
per clause. No pytest import here.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .properties import OBSERVATION

__all__ = ["Figure", "Observation", "Observer", "format_value", "headline"]

Scalar = int | float | str


@dataclass
class Observation:
    """One measured figure. `value` is a number, a text, or a series of numbers (e.g.
    chunk arrival times); `unit` is SI ("s", not "ms"): the report picks the display."""

    name: str
    value: Scalar | list[float]
    unit: str = ""
    expected: str = ""
    clauses: list[str] = field(default_factory=list)
    key: bool = False

    @property
    def is_series(self) -> bool:
        return isinstance(self.value, list)

    @property
    def is_number(self) -> bool:
        return isinstance(self.value, int | float)

    def text(self, *, with_expected: bool = False) -> str:
        """`idle close after 5.01 s`, with `; expected 5 s` if asked and known."""
        text = f"{self.name} {format_value(self.value, self.unit)}"
        return f"{text}; expected {self.expected}" if with_expected and self.expected else text

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "expected": self.expected,
            "clauses": list(self.clauses),
            "key": self.key,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Observation:
        return cls(
            name=str(data["name"]),
            value=data["value"],
            unit=str(data.get("unit", "")),
            expected=str(data.get("expected", "")),
            clauses=[str(c) for c in data.get("clauses", [])],
            key=bool(data.get("key", False)),
        )


class Observer:
    """What the `serve_observe` fixture gives a test: `record()` files a figure against
    the test's clauses (all of them, or the one named with `clause=`)."""

    def __init__(self, clauses: Sequence[str], sink: Callable[[Observation], None]) -> None:
        self.clauses = list(clauses)
        self.observations: list[Observation] = []
        self._sink = sink

    def record(
        self,
        name: str,
        value: Scalar | Sequence[float],
        unit: str = "",
        *,
        expected: str = "",
        clause: str | None = None,
        key: bool = False,
    ) -> Observation:
        """Record `value` (a number, a text or a sequence of numbers) in `unit` ("s",
        "calls", …) under `name`, a phrase the value completes ("idle close after").
        `expected` says what the clause asks for, in words ("5 s, accepted 4.5..6.5 s");
        `key=True` makes this the clause's headline figure (by default its first
        number). Returns the observation; call it before the assertion, so a failing
        test still reports what it saw."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"serve_observe.record: name must be a non-empty phrase, got {name!r}")
        if clause is None:
            clauses = list(self.clauses)
        elif clause in self.clauses:
            clauses = [clause]
        else:
            raise ValueError(
                f"serve_observe.record({name!r}, clause={clause!r}): this test is marked with "
                f"{self.clauses or 'no clause'}; name one of those, or mark the test with clause({clause!r})"
            )
        observation = Observation(name.strip(), _checked(name, value), unit, expected, clauses, key)
        self.observations.append(observation)
        self._sink(observation)
        return observation


def _checked(name: str, value: object) -> Scalar | list[float]:
    """The value as stored: finite numbers, texts, or lists of finite numbers."""
    if isinstance(value, bool) or value is None:
        raise TypeError(f"serve_observe.record({name!r}): value must be a number, text or numbers, not {value!r}")
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"serve_observe.record({name!r}): value must be finite, got {value!r}")
        return value if isinstance(value, int) else round(value, 6)
    if isinstance(value, Sequence):
        numbers = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
                raise TypeError(f"serve_observe.record({name!r}): a series holds finite numbers only, got {item!r}")
            numbers.append(round(float(item), 6))
        return numbers
    raise TypeError(f"serve_observe.record({name!r}): value must be a number, text or numbers, not {value!r}")


def encode(observation: Observation) -> str:
    """The `user_properties` value for an observation (JSON: xdist and junitxml carry text)."""
    return json.dumps(observation.to_json(), separators=(",", ":"))


def decode(properties: Sequence[Sequence[object]]) -> list[Observation]:
    """The observations among a test report's `user_properties`."""
    found = []
    for entry in properties:
        name, value = entry[0], entry[1]
        if name == OBSERVATION and isinstance(value, str):
            found.append(Observation.from_json(json.loads(value)))
    return found


def format_value(value: Scalar | list[float], unit: str = "") -> str:
    """A value as people read it: seconds below 1 s in ms, series as count and range."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if not value:
            return "no values"
        return f"{len(value)} values, {_range(min(value), max(value), unit)}"
    return _number(value, unit)


def _number(value: float, unit: str, scale: float | None = None) -> str:
    """One number; seconds shown in ms below 1 s (or when `scale`, the largest
    magnitude shown beside it, is below 1 s)."""
    if unit == "s":
        scale = abs(value) if scale is None else scale
        if scale < 1:
            ms = value * 1000
            return f"{ms:.0f} ms" if abs(ms) >= 10 or ms == 0 else f"{ms:.1f} ms"
        return f"{value:.2f} s" if scale < 10 else f"{value:.1f} s"
    text = str(value) if isinstance(value, int) else f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def _range(low: float, high: float, unit: str) -> str:
    """`1.00–1.02 s`: both ends on one scale, the unit once."""
    scale = max(abs(low), abs(high))
    a, b = _number(low, unit, scale), _number(high, unit, scale)
    if a == b:
        return a
    return f"{a.partition(' ')[0]}–{b}" if unit else f"{a}–{b}"


@dataclass
class Figure:
    """A clause's headline: one observation name, with every value its tests recorded."""

    name: str
    values: list[Scalar]
    unit: str
    expected: str

    @property
    def number(self) -> float | None:
        """The median of the values, if they are all numbers (for comparisons)."""
        if not self.values or not all(isinstance(v, int | float) for v in self.values):
            return None
        return float(statistics.median(float(v) for v in self.values))

    def text(self, *, with_expected: bool = False) -> str:
        numbers = [float(v) for v in self.values if isinstance(v, int | float)]
        if len(self.values) == 1:
            shown = format_value(self.values[0], self.unit)
        elif len(numbers) == len(self.values):
            shown = f"{_range(min(numbers), max(numbers), self.unit)} ({len(numbers)} measurements)"
        else:
            shown = "; ".join(format_value(v, self.unit) for v in self.values)
        text = f"{self.name} {shown}"
        return f"{text}; expected {self.expected}" if with_expected and self.expected else text


def headline(observations: Sequence[Observation]) -> Figure | None:
    """The figure that sums up a clause: the first observation marked `key`, else its
    first number, else its first observation; with every value recorded under that name."""
    if not observations:
        return None
    keyed = [o for o in observations if o.key]
    scalars = [o for o in observations if not o.is_series]
    first = (keyed or [o for o in scalars if o.is_number] or scalars or list(observations))[0]
    same = [o for o in observations if o.name == first.name and not o.is_series]
    if not same:  # a series as the headline: show its count and range
        return Figure(first.name, [format_value(first.value, first.unit)], "", first.expected)
    values: list[Scalar] = [o.value for o in same if not isinstance(o.value, list)]
    return Figure(first.name, values, first.unit, first.expected)
