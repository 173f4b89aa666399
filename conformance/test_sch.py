"""SCH — `ray.serve.schema` and `serve.status()` (clauses SCH-1 … SCH-3).

The models are used as apps use them: imported from `serve.schema`, built from
dicts, validated and dumped. Expected values are Ray 2.60's (docs/reference-impl.md).
`serve.status()` is read after deploys made through `serve_app`.
"""

import time

import pytest

# Bound for the proxies to report HEALTHY once an app serves (Ray 2.60: well under 1 s).
HEALTHY_WITHIN_S = 30.0
# Slack between the test's clock and the implementation's for `last_deployed_time_s`.
CLOCK_SLACK_S = 5.0


def _errors(exc_info):
    """`(loc, msg)` of a pydantic ValidationError, loc joined with dots."""
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc_info.value.errors()]


# -- SCH-1 -------------------------------------------------------------------------------


@pytest.mark.clause("SCH-1")
def test_sch_1_status_reports_apps_and_deployments(serve, serve_app):
    """After deploying an app of two deployments (`Outer` → `Inner`, 2 replicas),
    `serve.status()` is a `serve.schema.ServeStatus` whose `applications[name]` is an
    `ApplicationStatusOverview` with status RUNNING (an `ApplicationStatus`, equal to the
    string), message "", a `last_deployed_time_s` between the deploy's start and end, and
    one `DeploymentStatusOverview` per deployment: HEALTHY, CONFIG_UPDATE_COMPLETED,
    `replica_states == {"RUNNING": n}`, message "". Every proxy is HEALTHY."""
    schema = serve.schema

    @serve.deployment(num_replicas=2)
    class Inner:
        def __call__(self):
            return "inner"

    @serve.deployment
    class Outer:
        def __init__(self, inner):
            self.inner = inner

        async def __call__(self, request):
            return await self.inner.remote()

    before = time.time()
    app = serve_app(Outer.bind(Inner.bind()), route_prefix="/sch1")
    after = time.time()
    assert app.http.get("/sch1").text == "inner"

    status = serve.status()
    assert isinstance(status, schema.ServeStatus)
    overview = status.applications[app.name]
    assert isinstance(overview, schema.ApplicationStatusOverview)
    assert overview.status == schema.ApplicationStatus.RUNNING == "RUNNING"
    assert isinstance(overview.status, schema.ApplicationStatus)
    assert overview.message == ""
    assert before - CLOCK_SLACK_S <= overview.last_deployed_time_s <= after + CLOCK_SLACK_S
    assert sorted(overview.deployments) == ["Inner", "Outer"]
    for name, replicas in (("Inner", 2), ("Outer", 1)):
        dep = overview.deployments[name]
        assert isinstance(dep, schema.DeploymentStatusOverview), name
        assert dep.status == schema.DeploymentStatus.HEALTHY == "HEALTHY", name
        assert dep.status_trigger == schema.DeploymentStatusTrigger.CONFIG_UPDATE_COMPLETED, name
        assert dep.replica_states == {"RUNNING": replicas}, name
        assert dep.message == "", name

    deadline = time.monotonic() + HEALTHY_WITHIN_S
    proxies = serve.status().proxies
    while not (proxies and all(p == "HEALTHY" for p in proxies.values())):
        assert time.monotonic() < deadline, f"proxies not HEALTHY within {HEALTHY_WITHIN_S} s: {proxies}"
        time.sleep(0.1)
        proxies = serve.status().proxies
    assert all(isinstance(p, schema.ProxyStatus) for p in proxies.values())


@pytest.mark.clause("SCH-1")
def test_sch_1_status_follows_deploys_and_deletes(serve, serve_app):
    """Each deployed app is listed under its name (one with `route_prefix=None` too,
    with its deployment's replica count); after `serve.delete(name)` it is gone while
    the other stays RUNNING."""

    @serve.deployment(num_replicas=3)
    def Echo():
        return "echo"

    routed = serve_app(Echo.bind(), route_prefix="/sch1b", name="sch1_routed")
    hidden = serve_app(Echo.bind(), route_prefix=None, name="sch1_hidden")
    apps = serve.status().applications
    assert {routed.name, hidden.name} <= set(apps)
    assert apps[hidden.name].status == "RUNNING"
    assert apps[hidden.name].deployments["Echo"].replica_states == {"RUNNING": 3}

    serve.delete(hidden.name)
    apps = serve.status().applications
    assert hidden.name not in apps
    assert apps[routed.name].status == "RUNNING"


# -- SCH-2 -------------------------------------------------------------------------------


@pytest.mark.clause("SCH-2")
def test_sch_2_logging_config_validation(serve):
    """`LoggingConfig`: defaults TEXT / INFO / no logs_dir / access log on / no extra
    attributes; an int level becomes its name (10 → "DEBUG"); an unknown or lower-case
    level, an unknown int level, an unknown encoding, an unknown record attribute and an
    unknown field are each rejected with Ray's message (a ValidationError, so a ValueError)."""
    LoggingConfig = serve.schema.LoggingConfig

    assert LoggingConfig().model_dump() == {
        "encoding": "TEXT",
        "log_level": "INFO",
        "logs_dir": None,
        "enable_access_log": True,
        "additional_log_standard_attrs": [],
    }
    assert LoggingConfig(log_level=10).log_level == "DEBUG"
    assert LoggingConfig(log_level="WARNING", encoding="JSON").encoding == "JSON"

    for bad in ("BAD", "debug"):
        with pytest.raises(ValueError) as err:
            LoggingConfig(log_level=bad)
        [(loc, msg)] = _errors(err)
        assert loc == "log_level"
        assert f'Got "{bad}" for log_level. log_level must be one of [' in msg
        assert "'DEBUG'" in msg and "'INFO'" in msg

    with pytest.raises(ValueError) as err:
        LoggingConfig(log_level=11)
    [(loc, msg)] = _errors(err)
    # The lists are Python's level table, which libraries may extend (uvicorn adds 5).
    assert loc == "log_level"
    assert msg.startswith('Value error, Got "11" for log_level. log_level must be one of [50, 40, 30, 20, 10, 0')

    with pytest.raises(ValueError) as err:
        LoggingConfig(encoding="XML")
    [(loc, msg)] = _errors(err)
    assert loc == "encoding"
    assert "Got 'XML' for encoding. Encoding must be one of {" in msg
    assert "<EncodingType.JSON: 'JSON'>" in msg and "<EncodingType.TEXT: 'TEXT'>" in msg

    with pytest.raises(ValueError) as err:
        LoggingConfig(additional_log_standard_attrs=["nope"])
    [(loc, msg)] = _errors(err)
    assert loc == "additional_log_standard_attrs"
    assert "Unknown attribute 'nope'. Additional log standard attributes must be one of {" in msg

    with pytest.raises(ValueError) as err:
        LoggingConfig(log_levl="INFO")
    assert [e["type"] for e in err.value.errors()] == ["extra_forbidden"]


@pytest.mark.clause("SCH-2")
def test_sch_2_deployment_logging_config_option(serve, serve_app):
    """`logging_config` of `@serve.deployment` / `.options()` takes a dict or a
    `LoggingConfig`; a bad level is rejected when the decorator runs, naming
    `logging_config.log_level`, and a non-dict with Ray's "valid dictionary" error;
    deployments with good values serve requests."""
    LoggingConfig = serve.schema.LoggingConfig

    with pytest.raises(ValueError) as err:

        @serve.deployment(logging_config={"log_level": "BAD"})
        def bad_level():
            return "never"

    [(loc, msg)] = _errors(err)
    assert loc == "logging_config.log_level"
    assert 'Got "BAD" for log_level' in msg

    @serve.deployment
    def Logged():
        return "logged"

    with pytest.raises(ValueError) as err:
        Logged.options(logging_config=42)
    assert _errors(err) == [("logging_config", "Input should be a valid dictionary")]
    with pytest.raises(ValueError) as err:
        Logged.options(logging_config={"log_level": "INFO", "colour": True})
    assert [e["type"] for e in err.value.errors()] == ["extra_forbidden"]

    as_dict = serve_app(
        Logged.options(logging_config={"log_level": "DEBUG"}).bind(), route_prefix="/sch2a", name="sch2a"
    )
    as_model = serve_app(
        Logged.options(logging_config=LoggingConfig(log_level="WARNING", encoding="JSON")).bind(),
        route_prefix="/sch2b",
        name="sch2b",
    )
    assert as_dict.http.get("/sch2a").text == "logged"
    assert as_model.http.get("/sch2b").text == "logged"


@pytest.mark.clause("SCH-2")
def test_sch_2_run_logging_config(serve, serve_app):
    """`serve.run(app, logging_config=...)` rejects a bad level and a non-dict before
    deploying anything (the app is not in `serve.status()`), and deploys with a good
    `LoggingConfig`."""

    @serve.deployment
    def Plain():
        return "plain"

    # serve_app first, so this module's code reaches the implementation's workers.
    assert serve_app(Plain.bind(), route_prefix="/sch2c", name="sch2c").http.get("/sch2c").text == "plain"

    with pytest.raises(ValueError) as err:
        serve.run(Plain.bind(), name="sch2_bad", route_prefix="/sch2bad", logging_config={"log_level": "BAD"})
    assert any('Got "BAD" for log_level' in msg for _, msg in _errors(err))
    with pytest.raises(ValueError) as err:
        serve.run(Plain.bind(), name="sch2_bad", route_prefix="/sch2bad", logging_config=42)
    assert ("logging_config", "Input should be a valid dictionary") in _errors(err)
    assert "sch2_bad" not in serve.status().applications

    try:
        serve.run(
            Plain.bind(),
            name="sch2_good",
            route_prefix="/sch2good",
            logging_config=serve.schema.LoggingConfig(log_level="DEBUG"),
        )
        assert serve.status().applications["sch2_good"].status == "RUNNING"
    finally:
        serve.delete("sch2_good")


# -- SCH-3 -------------------------------------------------------------------------------


@pytest.mark.clause("SCH-3")
def test_sch_3_status_types(serve):
    """The status enums have Ray's members and values, compare equal to their strings,
    and `ServeStatus`, `ApplicationStatusOverview` and `DeploymentStatusOverview` are
    dataclasses with Ray's fields; `ReplicaRank` needs `rank`, `node_rank`, `local_rank`."""
    import dataclasses

    schema = serve.schema
    values = {
        "ApplicationStatus": [
            "NOT_STARTED",
            "DEPLOYING",
            "DEPLOY_FAILED",
            "RUNNING",
            "UNHEALTHY",
            "DELETING",
        ],
        "DeploymentStatus": ["UPDATING", "HEALTHY", "UNHEALTHY", "DEPLOY_FAILED", "UPSCALING", "DOWNSCALING"],
        "DeploymentStatusTrigger": [
            "UNSPECIFIED",
            "CONFIG_UPDATE_STARTED",
            "CONFIG_UPDATE_COMPLETED",
            "UPSCALE_COMPLETED",
            "DOWNSCALE_COMPLETED",
            "AUTOSCALING",
            "REPLICA_STARTUP_FAILED",
            "DEPLOYMENT_ACTOR_FAILED",
            "HEALTH_CHECK_FAILED",
            "INTERNAL_ERROR",
            "DELETING",
        ],
        "ProxyStatus": ["STARTING", "HEALTHY", "UNHEALTHY", "DRAINING", "DRAINED"],
        "EncodingType": ["TEXT", "JSON"],
    }
    for name, expected in values.items():
        enum = getattr(schema, name)
        assert [m.value for m in enum] == expected, name
        assert all(m == m.value and isinstance(m, str) for m in enum), name
    assert str(schema.ApplicationStatus.RUNNING) == "ApplicationStatus.RUNNING"

    fields = {
        "ServeStatus": ["proxies", "applications", "target_capacity"],
        "ApplicationStatusOverview": ["status", "message", "last_deployed_time_s", "deployments"],
        "DeploymentStatusOverview": ["status", "status_trigger", "replica_states", "message"],
    }
    for name, expected in fields.items():
        assert [f.name for f in dataclasses.fields(getattr(schema, name))] == expected, name
    empty = schema.ServeStatus()
    assert (empty.proxies, empty.applications) == ({}, {})

    assert schema.ReplicaRank(rank=1, node_rank=0, local_rank=1).model_dump() == {
        "rank": 1,
        "node_rank": 0,
        "local_rank": 1,
    }
    with pytest.raises(ValueError) as err:
        schema.ReplicaRank()
    assert sorted(loc for loc, _ in _errors(err)) == ["local_rank", "node_rank", "rank"]


@pytest.mark.clause("SCH-3")
def test_sch_3_config_models(serve):
    """`ServeDeploySchema` / `ServeApplicationSchema` / `DeploymentSchema` built from a
    config dict have Ray's defaults (app "default" at "/", proxies on EveryNode, HTTP on
    0.0.0.0:8000 with 90 s keep-alive, gRPC on 9000) and dump back only what was set with
    `exclude_unset=True`; Ray's rules reject duplicate app names, bad import paths,
    `num_replicas` with `autoscaling_config` and `max_queued_requests=0`."""
    schema = serve.schema
    config = {
        "applications": [
            {
                "import_path": "pkg.mod:app",
                "deployments": [{"name": "Model", "num_replicas": 2, "user_config": {"k": 1}}],
            }
        ]
    }
    deploy = schema.ServeDeploySchema.model_validate(config)
    assert deploy.model_dump(exclude_unset=True) == config
    assert deploy.proxy_location == "EveryNode"
    http = deploy.http_options
    assert (http.host, http.port, http.root_path, http.keep_alive_timeout_s) == ("0.0.0.0", 8000, "", 90)
    assert http.request_timeout_s is None
    assert deploy.grpc_options.port == 9000
    assert (deploy.logging_config, deploy.target_capacity) == (None, None)

    [app] = deploy.applications
    assert isinstance(app, schema.ServeApplicationSchema)
    assert (app.name, app.route_prefix, app.args, app.runtime_env) == ("default", "/", {}, {})
    assert (app.logging_config, app.external_scaler_enabled) == (None, False)
    assert app.deployment_names == ["Model"]
    [dep] = app.deployments
    assert isinstance(dep, schema.DeploymentSchema)
    assert (dep.name, dep.num_replicas, dep.user_config) == ("Model", 2, {"k": 1})
    assert schema.DeploymentSchema(name="M", num_replicas="auto").num_replicas == "auto"

    with pytest.raises(ValueError) as err:
        schema.ServeDeploySchema.model_validate(
            {"applications": [{"import_path": "a.b:c"}, {"import_path": "a.b:d", "route_prefix": "/d"}]}
        )
    assert _errors(err) == [
        (
            "applications",
            'Value error, Found multiple configs for application "default". Please remove all duplicates.',
        )
    ]
    with pytest.raises(ValueError) as err:
        schema.ServeApplicationSchema(import_path="app")
    [(loc, msg)] = _errors(err)
    assert loc == "import_path" and 'Got invalid import path "app".' in msg
    with pytest.raises(ValueError) as err:
        schema.DeploymentSchema(name="M", num_replicas=2, autoscaling_config={"max_replicas": 3})
    manual = "Manually setting num_replicas is not allowed when autoscaling_config is provided."
    assert manual in str(err.value)
    with pytest.raises(ValueError) as err:
        schema.DeploymentSchema(name="M", max_queued_requests=0)
    assert "max_queued_requests must be -1 (no limit) or a positive integer." in str(err.value)
