"""`ray.serve.metrics`: custom Counter, Gauge and Histogram metrics, as in Ray 2.60.

Construction and recording check names, tag keys, tag values and values with Ray's
errors. Inside a replica, the tags `deployment`, `replica` and `application` are
added to every metric (and reserved), and a `route` tag key is filled with the
request's route, as Ray does.

Ray exports the values to Prometheus. The reference keeps them in this process
instead, where tests read them with `samples()` and reset them with `clear()` —
an extension of the reference, not part of Ray's API.
"""

from __future__ import annotations

import bisect
import re
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import context
from .unavailable import ray_names_getattr

__all__ = ["Counter", "Gauge", "Histogram", "Sample", "clear", "samples"]

DEPLOYMENT_TAG = "deployment"
REPLICA_TAG = "replica"
APPLICATION_TAG = "application"
ROUTE_TAG = "route"
_RESERVED = (DEPLOYMENT_TAG, REPLICA_TAG, APPLICATION_TAG)

# Prometheus' rule for metric names; Ray warns about and discards other names.
_VALID_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


# -- the in-process store (reference-only) ------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """What one metric recorded for one set of tags.

    `value` is a counter's total, a gauge's last value or a histogram's sum; `count`
    is how many recordings there were; `buckets` (histograms only) counts the
    observations at or below each boundary, in the order given, and then all of them
    (the `+Inf` bucket), as Prometheus' cumulative `le` buckets do.
    """

    name: str
    kind: str
    tags: Mapping[str, str]
    value: float
    count: int
    buckets: tuple[int, ...] | None = None


class _Store:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}

    def record(self, metric: _Metric, value: float, tags: dict[str, str]) -> None:
        key = (metric._name, tuple(sorted(tags.items())))
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = {"kind": metric._kind, "value": 0.0, "count": 0, "observed": []}
                self._series[key] = series
            series["count"] += 1
            if metric._kind == "counter":
                series["value"] += value
            elif metric._kind == "gauge":
                series["value"] = float(value)
            else:
                series["value"] += value
                series["observed"].append(value)
                assert isinstance(metric, Histogram)
                series["boundaries"] = list(metric.boundaries)

    def samples(self, name: str | None) -> list[Sample]:
        with self._lock:
            items = [(k, dict(v, observed=list(v["observed"]))) for k, v in self._series.items()]
        result = []
        for (metric_name, tags), series in sorted(items):
            if name is not None and metric_name != name:
                continue
            buckets = None
            if series["kind"] == "histogram":
                observed = sorted(series["observed"])
                buckets = (
                    *(bisect.bisect_right(observed, bound) for bound in series["boundaries"]),
                    len(observed),
                )
            result.append(Sample(metric_name, series["kind"], dict(tags), series["value"], series["count"], buckets))
        return result

    def clear(self) -> None:
        with self._lock:
            self._series.clear()


_store = _Store()


def samples(name: str | None = None) -> list[Sample]:
    """Everything recorded so far in this process (of metric `name` only, if given),
    one `Sample` per metric and tag set. Reference-only: Ray exports to Prometheus."""
    return _store.samples(name)


def clear() -> None:
    """Forget every recorded value (reference-only)."""
    _store.clear()


# -- the metrics ----------------------------------------------------------------------


def _check_tuple(tag_keys: Any) -> None:
    if tag_keys and not isinstance(tag_keys, tuple):
        raise TypeError(f"tag_keys should be a tuple type, got: {type(tag_keys)}")


def _with_serve_tag_keys(tag_keys: tuple[str, ...] | None) -> tuple[str, ...]:
    """Inside a replica, Serve's own tag keys come first and may not be given."""
    tag_keys = tag_keys or ()
    replica = context._get_internal_replica_context()
    if replica is None:
        return tag_keys
    for key in _RESERVED:
        if key in tag_keys:
            raise ValueError(f"'{key}' tag is reserved for Ray Serve metrics")
    serve_keys = (DEPLOYMENT_TAG, REPLICA_TAG) + ((APPLICATION_TAG,) if replica.app_name else ())
    return serve_keys + tuple(tag_keys)


class _Metric:
    _kind = ""

    def __init__(self, name: str, description: str, tag_keys: tuple[str, ...] | None) -> None:
        if len(name) == 0:
            raise ValueError("Empty name is not allowed. Please provide a metric name.")
        self._discard = not _VALID_NAME.match(name)
        if self._discard:
            warnings.warn(
                f"Invalid metric name: {name}. Metric will be discarded and data will not be "
                "collected or published. Metric names can only contain letters, numbers, _, "
                "and :. Metric names cannot start with numbers.",
                UserWarning,
                stacklevel=3,
            )
        self._name = name
        self._description = description
        self._default_tags: dict[str, str] = {}
        self._tag_keys: tuple[str, ...] = tag_keys or ()
        if not isinstance(self._tag_keys, tuple):
            raise TypeError(f"tag_keys should be a tuple type, got: {type(self._tag_keys)}")
        for key in self._tag_keys:
            if not isinstance(key, str):
                raise TypeError(f"Tag keys must be str, got {type(key)}.")
        if ":" in name:
            warnings.warn(
                f"Metric name {name} contains a : character, which is no longer allowed. "
                "Please migrate to the new metric name format. This will be an error in the "
                "future.",
                FutureWarning,
                stacklevel=3,
            )

    def set_default_tags(self, default_tags: dict[str, str]) -> None:
        """Tags used by every recording unless it passes its own; replaces earlier ones.

        Inside a replica Serve's tags are added to `default_tags` (the dict itself, as
        in Ray). Returns None: Serve's metrics do not chain as `ray.util.metrics` do.
        """
        replica = context._get_internal_replica_context()
        if replica is not None:
            for key in _RESERVED:
                if key in default_tags:
                    raise ValueError(f"'{key}' tag is reserved for Ray Serve metrics")
            default_tags[DEPLOYMENT_TAG] = replica.deployment
            default_tags[REPLICA_TAG] = replica.replica_tag
            if replica.app_name:
                default_tags[APPLICATION_TAG] = replica.app_name
        for key, value in default_tags.items():
            if key not in self._tag_keys:
                raise ValueError(f"Unrecognized tag key {key}.")
            if not isinstance(value, str):
                raise TypeError(f"Tag values must be str, got {type(value)}.")
        self._default_tags = default_tags

    @property
    def info(self) -> dict[str, Any]:
        return {
            "name": self._name,
            "description": self._description,
            "tag_keys": self._tag_keys,
            "default_tags": self._default_tags,
        }

    def _fill_route(self, tags: dict[str, str] | None) -> None:
        # NOTE: as in Ray 2.60, a metric with a `route` tag key recorded with tags=None
        # raises TypeError ("argument of type 'NoneType' is not iterable"); the route
        # is written into the caller's dict.
        if ROUTE_TAG in self._tag_keys and ROUTE_TAG not in tags:  # type: ignore[operator]
            tags[ROUTE_TAG] = context._get_serve_request_context().route  # type: ignore[index]

    @staticmethod
    def _check_number(value: Any) -> None:
        if not isinstance(value, (int, float)):
            raise TypeError(f"value must be int or float, got {type(value)}.")

    def _record(self, value: float, tags: dict[str, str] | None) -> None:
        if self._discard:
            return
        if tags:
            for tag_value in tags.values():
                if not isinstance(tag_value, str):
                    raise TypeError(f"Tag values must be str, got {type(tag_value)}.")
            final = {**self._default_tags, **tags}
        else:
            final = self._default_tags
        missing = [key for key in self._tag_keys if key not in final]
        if missing:
            raise ValueError(f"Missing value for tag key(s): {','.join(missing)}.")
        # Tags that are not tag keys are dropped, as Ray's exporter drops them.
        _store.record(self, value, {key: final[key] for key in self._tag_keys})


class Counter(_Metric):
    """A total that only goes up (Prometheus counter; Ray exports it as `<name>_total`)."""

    _kind = "counter"

    def __init__(self, name: str, description: str = "", tag_keys: tuple[str, ...] | None = None) -> None:
        _check_tuple(tag_keys)
        super().__init__(name, description, _with_serve_tag_keys(tag_keys))
        self.set_default_tags({})

    def inc(self, value: int | float = 1.0, tags: dict[str, str] | None = None) -> None:
        self._fill_route(tags)
        self._check_number(value)
        if value <= 0:
            raise ValueError(f"value must be >0, got {value}")
        self._record(value, tags)


class Gauge(_Metric):
    """The last value set (Prometheus gauge)."""

    _kind = "gauge"

    def __init__(self, name: str, description: str = "", tag_keys: tuple[str, ...] | None = None) -> None:
        _check_tuple(tag_keys)
        super().__init__(name, description, _with_serve_tag_keys(tag_keys))
        self.set_default_tags({})

    def set(self, value: int | float | None, tags: dict[str, str] | None = None) -> None:
        """Set the gauge; `None` leaves it as it is."""
        self._fill_route(tags)
        if value is None:
            return
        self._check_number(value)
        self._record(value, tags)


class Histogram(_Metric):
    """Observations counted into buckets with the given upper `boundaries`."""

    _kind = "histogram"

    def __init__(
        self,
        name: str,
        description: str = "",
        boundaries: list[float] | None = None,
        tag_keys: tuple[str, ...] | None = None,
    ) -> None:
        _check_tuple(tag_keys)
        super().__init__(name, description, _with_serve_tag_keys(tag_keys))
        if boundaries is None or len(boundaries) == 0:
            raise ValueError(
                "boundaries argument should be provided when using the Histogram class. "
                'e.g., Histogram("name", boundaries=[1.0, 2.0])'
            )
        for index, boundary in enumerate(boundaries):
            if boundary <= 0:
                raise ValueError(
                    f"Invalid `boundaries` argument at index {index}, {boundaries}. "
                    "Use positive values for the arguments."
                )
        self.boundaries = boundaries
        self.set_default_tags({})

    def observe(self, value: int | float, tags: dict[str, str] | None = None) -> None:
        self._fill_route(tags)
        self._check_number(value)
        self._record(value, tags)

    @property
    def info(self) -> dict[str, Any]:
        return {**super().info, "boundaries": self.boundaries}


# Ray's names this module lacks: importing them works, using them says to run on Ray
# (hidden from type checkers, which would otherwise accept any name from this module).
if not TYPE_CHECKING:
    __getattr__ = ray_names_getattr("ray.serve.metrics")
