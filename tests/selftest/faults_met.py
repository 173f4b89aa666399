"""Faults that break the MET clauses (`ray.serve.metrics`) of the reference implementation."""

from __future__ import annotations

from faulty import fault


@fault("met-no-serve-tags", "MET-1")
def _(mp):
    """Metrics never see the replica they run in, so Serve's tags are not added."""
    from types import SimpleNamespace

    from reference_impl import context, metrics

    outside = SimpleNamespace(
        _get_internal_replica_context=lambda: None,
        _get_serve_request_context=context._get_serve_request_context,
    )
    mp.setattr(metrics, "context", outside)


@fault("met-recording-fails", "MET-1")
def _(mp):
    """Recording a value raises inside the store."""
    from reference_impl import metrics

    def record(self, metric, value, tags):
        raise RuntimeError(f"cannot record {metric._name}")

    mp.setattr(metrics._Store, "record", record)


@fault("met-missing-tags-accepted", "MET-2")
def _(mp):
    """A recording that lacks a tag value is accepted (with the value left out)."""
    from reference_impl import metrics

    def record(self, value, tags):
        if self._discard:
            return
        final = {**self._default_tags, **(tags or {})}
        metrics._store.record(self, value, {k: final[k] for k in self._tag_keys if k in final})

    mp.setattr(metrics._Metric, "_record", record)


@fault("met-reserved-tags-allowed", "MET-2")
def _(mp):
    """Inside a replica the keys deployment/replica/application are not reserved."""
    from reference_impl import metrics

    mp.setattr(metrics, "_RESERVED", ())


@fault("met-nonpositive-inc-accepted", "MET-3")
def _(mp):
    """`Counter.inc` takes 0 and negative values."""
    from reference_impl import metrics

    def inc(self, value=1.0, tags=None):
        self._fill_route(tags)
        self._check_number(value)
        self._record(value, tags)

    mp.setattr(metrics.Counter, "inc", inc)


@fault("met-histogram-boundaries-unchecked", "MET-3")
def _(mp):
    """A Histogram without boundaries, or with non-positive ones, is accepted."""
    from reference_impl import metrics

    original = metrics.Histogram.__init__

    def init(self, name, description="", boundaries=None, tag_keys=None):
        original(self, name, description, [abs(b) or 1.0 for b in boundaries or [1.0]], tag_keys)
        self.boundaries = boundaries

    mp.setattr(metrics.Histogram, "__init__", init)
