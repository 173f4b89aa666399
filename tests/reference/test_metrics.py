"""metrics.py: the in-process store (`samples()`, `clear()`) and what replicas record."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator

import httpx
import pytest

from reference_impl import metrics, serve


@pytest.fixture(autouse=True)
def _empty_store() -> Iterator[None]:
    metrics.clear()
    yield
    metrics.clear()


def _only(name: str) -> metrics.Sample:
    [sample] = metrics.samples(name)
    return sample


def test_counter_gauge_histogram_values() -> None:
    """A counter sums, a gauge keeps its last value (None leaves it), a histogram counts
    observations into cumulative buckets (the last is +Inf) and sums them."""
    counter = metrics.Counter("requests", tag_keys=("model",))
    counter.inc(tags={"model": "a"})
    counter.inc(2.5, tags={"model": "a"})
    counter.inc(tags={"model": "b"})
    assert [(s.tags, s.value, s.count) for s in metrics.samples("requests")] == [
        ({"model": "a"}, 3.5, 2),
        ({"model": "b"}, 1.0, 1),
    ]
    gauge = metrics.Gauge("load")
    gauge.set(3)
    gauge.set(-2)
    gauge.set(None)
    assert (_only("load").kind, _only("load").value) == ("gauge", -2.0)
    histogram = metrics.Histogram("latency", boundaries=[0.1, 1, 10])
    for value in (0.05, 0.5, 0.7, 50):
        histogram.observe(value)
    sample = _only("latency")
    assert (sample.kind, sample.count, sample.buckets) == ("histogram", 4, (1, 3, 3, 4))
    assert sample.value == pytest.approx(51.25)
    assert {s.name for s in metrics.samples()} == {"requests", "load", "latency"}
    metrics.clear()
    assert metrics.samples() == []


def test_default_tags_and_dropped_tags() -> None:
    """Per-call tags override default ones; tags that are not tag keys are not kept."""
    counter = metrics.Counter("calls", tag_keys=("model", "version"))
    counter.set_default_tags({"model": "m", "version": "1"})
    counter.inc()
    counter.inc(tags={"version": "2", "other": "x"})
    assert [s.tags for s in metrics.samples("calls")] == [
        {"model": "m", "version": "1"},
        {"model": "m", "version": "2"},
    ]


def test_invalid_name_records_nothing() -> None:
    """A metric with an invalid name warns once and records nothing, even without tags."""
    with pytest.warns(UserWarning, match=r"^Invalid metric name: bad-name\. Metric will be discarded"):
        counter = metrics.Counter("bad-name", tag_keys=("model",))
    counter.inc()
    assert metrics.samples() == []
    with pytest.warns(FutureWarning, match=r"contains a : character"):
        metrics.Counter("a:b").inc()
    assert _only("a:b").value == 1.0


def test_route_tag_quirks() -> None:
    """As in Ray 2.60: with a `route` tag key, tags=None raises TypeError, and the route
    (empty outside a request) is written into the caller's dict."""
    counter = metrics.Counter("routed", tag_keys=("route",))
    with pytest.raises(TypeError, match=r"^argument of type 'NoneType' is not iterable$"):
        counter.inc()
    tags: dict[str, str] = {}
    counter.inc(tags=tags)
    assert tags == {"route": ""} and _only("routed").tags == {"route": ""}


def test_concurrent_recording_is_counted_exactly() -> None:
    """Replicas record from their own threads; no increment is lost."""
    counter = metrics.Counter("parallel")

    def work() -> None:
        for _ in range(2000):
            counter.inc()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert _only("parallel").value == 16000 and _only("parallel").count == 16000


@serve.deployment
class Metered:
    def __init__(self) -> None:
        self.requests = metrics.Counter("served", tag_keys=("route", "model"))
        self.requests.set_default_tags({"model": "default"})

    def __call__(self) -> str:
        self.requests.inc(tags={})
        return serve.get_replica_context().replica_tag


def test_replica_samples_carry_serve_tags(http: httpx.Client) -> None:
    """Inside a replica the samples carry deployment, replica and app, and `route` is the
    request's route prefix."""
    serve.run(Metered.bind(), name="shop", route_prefix="/shop")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        replica_tag = http.get("/shop").text
        http.get("/shop/x")
    sample = _only("served")
    assert sample.tags == {
        "application": "shop",
        "deployment": "Metered",
        "model": "default",
        "replica": replica_tag,
        "route": "/shop",
    }
    assert sample.value == 2.0
