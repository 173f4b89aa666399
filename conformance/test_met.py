"""MET — custom metrics, `ray.serve.metrics` (clauses MET-1 … MET-3).

Metrics are created and recorded inside replicas, which answer with what happened:
each metric's `info`, or for the error cases the exception's type and message and
any warnings. Ray exports the values to Prometheus and the reference keeps them in
process, so the values themselves are not compared here; the errors and the tags
Serve adds are, with Ray 2.60's exact messages.
"""

import pytest


def _outcome(action):
    """`["ok", [warnings]]` or `[exception type, message]`: JSON, to come back over HTTP."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            action()
        except Exception as err:
            return [type(err).__name__, str(err)]
    return ["ok", [f"{w.category.__name__}: {w.message}" for w in caught]]


def _outcomes(actions):
    return {label: _outcome(action) for label, action in actions.items()}


TUPLE_ERROR = "tag_keys should be a tuple type, got: <class 'list'>"


# -- MET-1 -------------------------------------------------------------------------------


@pytest.mark.clause("MET-1")
def test_met_1_metrics_in_a_replica_carry_serve_tags(serve, serve_app):
    """A replica creates a Counter, a Gauge and a Histogram with `tag_keys=("model",)`
    and default tags, then records on each request (with and without per-call tags).
    Every request succeeds; each metric's `info` shows the tag keys `deployment`,
    `replica`, `application`, `model` (in that order) and default tags holding the
    deployment name, the replica's `replica_tag`, the app name and the given model;
    `set_default_tags` returns None; the histogram keeps its boundaries."""

    @serve.deployment
    class Metered:
        def __init__(self):
            metrics = serve.metrics
            self.requests = metrics.Counter("met1_requests", description="Requests.", tag_keys=("model",))
            self.returned = self.requests.set_default_tags({"model": "default"})
            self.load = metrics.Gauge("met1_load", description="Load.", tag_keys=("model",))
            self.load.set_default_tags({"model": "default"})
            self.latency = metrics.Histogram(
                "met1_latency_s", description="Latency.", boundaries=[0.01, 0.1, 1.0], tag_keys=("model",)
            )
            self.latency.set_default_tags({"model": "default"})

        def __call__(self, request):
            model = request.query_params.get("model")
            tags = {"model": model} if model else None
            self.requests.inc(tags=tags)
            self.requests.inc(2.5, tags=tags)
            self.load.set(3, tags=tags)
            self.load.set(None)
            self.latency.observe(0.05, tags=tags)
            return {
                "counter": self.requests.info,
                "gauge": self.load.info,
                "histogram": self.latency.info,
                "set_default_tags": repr(self.returned),
                "replica_tag": serve.get_replica_context().replica_tag,
            }

    app = serve_app(Metered.bind(), route_prefix="/met1", name="met1")
    for params in ({}, {"model": "b"}, {}):
        response = app.http.get("/met1", params=params)
        assert response.status_code == 200, response.text
    body = response.json()
    assert body["set_default_tags"] == "None"
    tag_keys = ["deployment", "replica", "application", "model"]
    default_tags = {
        "model": "default",
        "deployment": "Metered",
        "replica": body["replica_tag"],
        "application": app.handle.app_name,  # "met1", under the instance's name for it
    }
    for kind, name, description in (
        ("counter", "met1_requests", "Requests."),
        ("gauge", "met1_load", "Load."),
        ("histogram", "met1_latency_s", "Latency."),
    ):
        info = dict(body[kind])
        boundaries = info.pop("boundaries", None)
        assert info == {
            "name": name,
            "description": description,
            "tag_keys": tag_keys,
            "default_tags": default_tags,
        }, kind
        assert boundaries == ([0.01, 0.1, 1.0] if kind == "histogram" else None), kind


@pytest.mark.clause("MET-1")
def test_met_1_no_serve_tags_outside_a_replica(serve, serve_instance):
    """In the driver (outside any replica), metrics keep exactly the given tag keys and
    default tags, `deployment` is an ordinary key there, and recording works."""
    metrics = serve.metrics
    counter = metrics.Counter("met1_driver_total", description="d", tag_keys=("model",))
    assert counter.info == {
        "name": "met1_driver_total",
        "description": "d",
        "tag_keys": ("model",),
        "default_tags": {},
    }
    counter.inc(tags={"model": "a"})
    own = metrics.Gauge("met1_driver_gauge", tag_keys=("deployment",))
    own.set_default_tags({"deployment": "mine"})
    own.set(1.5)
    assert own.info["default_tags"] == {"deployment": "mine"}
    histogram = metrics.Histogram("met1_driver_hist", boundaries=[1.0, 2.0])
    histogram.observe(1.5)
    assert histogram.info["tag_keys"] == () and histogram.boundaries == [1.0, 2.0]


# -- MET-2 -------------------------------------------------------------------------------


def _tag_errors(metrics):
    """Wrong tags, inside a replica; see test_met_2_wrong_tags_rejected_in_a_replica."""
    c = metrics.Counter("met2_requests", tag_keys=("model", "version"))
    g = metrics.Gauge("met2_load", tag_keys=("model",))
    h = metrics.Histogram("met2_latency", boundaries=[1.0], tag_keys=("model",))
    return _outcomes(
        {
            "inc no tags": lambda: c.inc(),
            "inc one tag missing": lambda: c.inc(tags={"model": "a"}),
            "set missing": lambda: g.set(1),
            "observe missing": lambda: h.observe(1),
            "inc extra tag": lambda: c.inc(tags={"model": "a", "version": "1", "other": "x"}),
            "inc non-str value": lambda: c.inc(tags={"model": 1, "version": "1"}),
            "default unknown key": lambda: c.set_default_tags({"nope": "x"}),
            "default non-str value": lambda: g.set_default_tags({"model": 3}),
            "default reserved": lambda: g.set_default_tags({"replica": "r"}),
            "counter list keys": lambda: metrics.Counter("met2_l1", tag_keys=["model"]),
            "gauge list keys": lambda: metrics.Gauge("met2_l2", tag_keys=["model"]),
            "histogram list keys": lambda: metrics.Histogram("met2_l3", boundaries=[1.0], tag_keys=["model"]),
            "non-str key": lambda: metrics.Counter("met2_k", tag_keys=(1,)),
            "reserved deployment": lambda: metrics.Counter("met2_r1", tag_keys=("deployment",)),
            "reserved replica": lambda: metrics.Gauge("met2_r2", tag_keys=("model", "replica")),
            "reserved application": lambda: metrics.Histogram("met2_r3", boundaries=[1.0], tag_keys=("application",)),
        }
    )


@pytest.mark.clause("MET-2")
def test_met_2_wrong_tags_rejected_in_a_replica(serve, serve_app):
    """Inside a replica: a recording missing a tag value raises ValueError "Missing value
    for tag key(s): ..." (keys comma-joined), a tag that is not a tag key is accepted, a
    non-`str` tag value raises TypeError, an unknown default tag key ValueError
    "Unrecognized tag key nope.", list `tag_keys` or a non-`str` key TypeError, and the
    keys `deployment`, `replica`, `application` ValueError "'<key>' tag is reserved for
    Ray Serve metrics" (in tag keys and in default tags)."""

    @serve.deployment
    class Tags:
        def __call__(self, request):
            return _tag_errors(serve.metrics)

    app = serve_app(Tags.bind(), route_prefix="/met2", name="met2")
    response = app.http.get("/met2")
    assert response.status_code == 200, response.text
    missing = "Missing value for tag key(s): "
    reserved = " tag is reserved for Ray Serve metrics"
    assert response.json() == {
        "inc no tags": ["ValueError", missing + "model,version."],
        "inc one tag missing": ["ValueError", missing + "version."],
        "set missing": ["ValueError", missing + "model."],
        "observe missing": ["ValueError", missing + "model."],
        "inc extra tag": ["ok", []],
        "inc non-str value": ["TypeError", "Tag values must be str, got <class 'int'>."],
        "default unknown key": ["ValueError", "Unrecognized tag key nope."],
        "default non-str value": ["TypeError", "Tag values must be str, got <class 'int'>."],
        "default reserved": ["ValueError", "'replica'" + reserved],
        "counter list keys": ["TypeError", TUPLE_ERROR],
        "gauge list keys": ["TypeError", TUPLE_ERROR],
        "histogram list keys": ["TypeError", TUPLE_ERROR],
        "non-str key": ["TypeError", "Tag keys must be str, got <class 'int'>."],
        "reserved deployment": ["ValueError", "'deployment'" + reserved],
        "reserved replica": ["ValueError", "'replica'" + reserved],
        "reserved application": ["ValueError", "'application'" + reserved],
    }


@pytest.mark.clause("MET-2")
def test_met_2_wrong_tags_rejected_outside_a_replica(serve, serve_instance):
    """In the driver the same checks apply, except that no key is reserved: a default
    tag `deployment` that is not a tag key is just "Unrecognized tag key deployment."."""
    metrics = serve.metrics
    counter = metrics.Counter("met2_driver_total", tag_keys=("model",))
    assert _outcomes(
        {
            "missing": lambda: counter.inc(),
            "unknown default": lambda: counter.set_default_tags({"deployment": "x"}),
            "non-str value": lambda: counter.inc(tags={"model": 2}),
            "list keys": lambda: metrics.Gauge("met2_driver_l", tag_keys=["model"]),
        }
    ) == {
        "missing": ["ValueError", "Missing value for tag key(s): model."],
        "unknown default": ["ValueError", "Unrecognized tag key deployment."],
        "non-str value": ["TypeError", "Tag values must be str, got <class 'int'>."],
        "list keys": ["TypeError", TUPLE_ERROR],
    }


# -- MET-3 -------------------------------------------------------------------------------


def _value_errors(metrics):
    """Bad values, names and boundaries, inside a replica; see the MET-3 test."""
    c = metrics.Counter("met3_requests")
    g = metrics.Gauge("met3_load")
    h = metrics.Histogram("met3_latency", boundaries=[1.0, 5.0])
    state = {}

    def bad_name():
        state["metric"] = metrics.Counter("met3-bad-name", tag_keys=("model",))

    outcomes = _outcomes(
        {
            "inc 0": lambda: c.inc(0),
            "inc -1.5": lambda: c.inc(-1.5),
            "inc str": lambda: c.inc("1"),
            "inc 1": lambda: c.inc(1),
            "set str": lambda: g.set("3"),
            "set negative": lambda: g.set(-2),
            "set None": lambda: g.set(None),
            "observe str": lambda: h.observe("x"),
            "observe 7": lambda: h.observe(7),
            "no boundaries": lambda: metrics.Histogram("met3_h1"),
            "empty boundaries": lambda: metrics.Histogram("met3_h2", boundaries=[]),
            "negative boundary": lambda: metrics.Histogram("met3_h3", boundaries=[1, -2]),
            "zero boundary": lambda: metrics.Histogram("met3_h4", boundaries=[0, 1]),
            "empty name": lambda: metrics.Counter(""),
            "invalid name": bad_name,
        }
    )
    # A discarded metric records nothing, so even a recording without its tags passes.
    outcomes["discarded inc"] = _outcome(lambda: state["metric"].inc())
    return outcomes


@pytest.mark.clause("MET-3")
def test_met_3_bad_values_names_and_boundaries(serve, serve_app):
    """Inside a replica: `inc` by 0 or a negative value raises ValueError "value must be
    >0, got <v>", a `str` value TypeError "value must be int or float, got <class 'str'>."
    (inc, set, observe); a gauge takes negative values and ignores None; a histogram
    without boundaries, or with one <= 0, raises Ray's ValueError; an empty name raises
    ValueError; an invalid name warns (UserWarning, Ray's text) and recording on it is a
    silent no-op."""

    @serve.deployment
    class Values:
        def __call__(self, request):
            return _value_errors(serve.metrics)

    app = serve_app(Values.bind(), route_prefix="/met3", name="met3")
    response = app.http.get("/met3")
    assert response.status_code == 200, response.text
    not_number = "value must be int or float, got <class 'str'>."
    no_boundaries = (
        "boundaries argument should be provided when using the Histogram class. "
        'e.g., Histogram("name", boundaries=[1.0, 2.0])'
    )
    assert response.json() == {
        "inc 0": ["ValueError", "value must be >0, got 0"],
        "inc -1.5": ["ValueError", "value must be >0, got -1.5"],
        "inc str": ["TypeError", not_number],
        "inc 1": ["ok", []],
        "set str": ["TypeError", not_number],
        "set negative": ["ok", []],
        "set None": ["ok", []],
        "observe str": ["TypeError", not_number],
        "observe 7": ["ok", []],
        "no boundaries": ["ValueError", no_boundaries],
        "empty boundaries": ["ValueError", no_boundaries],
        "negative boundary": [
            "ValueError",
            "Invalid `boundaries` argument at index 1, [1, -2]. Use positive values for the arguments.",
        ],
        "zero boundary": [
            "ValueError",
            "Invalid `boundaries` argument at index 0, [0, 1]. Use positive values for the arguments.",
        ],
        "empty name": ["ValueError", "Empty name is not allowed. Please provide a metric name."],
        "invalid name": [
            "ok",
            [
                "UserWarning: Invalid metric name: met3-bad-name. Metric will be discarded and "
                "data will not be collected or published. Metric names can only contain letters, "
                "numbers, _, and :. Metric names cannot start with numbers."
            ],
        ],
        "discarded inc": ["ok", []],
    }
