"""schema.py, api.status() and the logging_config option: what the conformance suite
cannot reach on both implementations (Serve not running, start(), stored values)."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from pydantic import ValidationError

from reference_impl import schema, serve
from reference_impl.api import running_instance
from reference_impl.instance import ServeInstance


@serve.deployment
def Hello() -> str:
    return "hello"


# -- serve.status() ------------------------------------------------------------------------


def test_status_when_not_running_is_empty() -> None:
    """With nothing running: an empty ServeStatus whose target_capacity is None."""
    assert running_instance() is None
    assert serve.status() == schema.ServeStatus(proxies={}, applications={}, target_capacity=None)


def test_status_of_running_apps(instance: ServeInstance) -> None:
    """One proxy, keyed like a Ray node ID, HEALTHY; every app RUNNING, also one with
    route_prefix=None; a redeploy moves `last_deployed_time_s` on; `target_capacity` None."""
    before = time.time()
    serve.run(Hello.options(num_replicas=2).bind(), name="a", route_prefix="/a")
    serve.run(Hello.bind(), name="hidden", route_prefix=None)
    status = serve.status()
    [(node_id, proxy)] = status.proxies.items()
    assert re.fullmatch(r"[0-9a-f]{56}", node_id) and proxy is schema.ProxyStatus.HEALTHY
    assert status.target_capacity is None
    assert sorted(status.applications) == ["a", "hidden"]
    first = status.applications["a"]
    assert first.status is schema.ApplicationStatus.RUNNING
    assert before <= first.last_deployed_time_s <= time.time()
    assert first.deployments["Hello"].replica_states == {"RUNNING": 2}

    serve.run(Hello.bind(), name="a", route_prefix="/a")
    again = serve.status().applications["a"]
    assert again.last_deployed_time_s >= first.last_deployed_time_s
    assert again.deployments["Hello"].replica_states == {"RUNNING": 1}
    assert serve.status().proxies == status.proxies


# -- logging_config ------------------------------------------------------------------------


def test_start_checks_logging_config_when_it_starts() -> None:
    """serve.start(logging_config=...) raises LoggingConfig's ValidationError for a bad
    dict and TypeError for a non-dict, starting nothing; a LoggingConfig is taken."""
    with pytest.raises(ValidationError, match=r"1 validation error for LoggingConfig\nlog_level"):
        serve.start(http_options={"port": 0}, logging_config={"log_level": "BAD"})
    with pytest.raises(TypeError, match=r"^logging_config must be a dict or a LoggingConfig, got int$"):
        serve.start(http_options={"port": 0}, logging_config=42)
    assert running_instance() is None
    serve.start(http_options={"port": 0}, logging_config=schema.LoggingConfig(log_level="DEBUG"))
    assert running_instance() is not None


def test_start_ignores_logging_config_when_running(instance: ServeInstance) -> None:
    """As in Ray, a running instance does not look at a new logging_config at all."""
    serve.start(http_options={"port": 0}, logging_config={"log_level": "BAD"})
    assert running_instance() is instance


def test_deployment_logging_config_is_stored_complete() -> None:
    """The option is kept as Ray stores it: the full dict, an int level as its name."""
    options = Hello.options(logging_config={"log_level": 10}).options_
    assert options.ignored["logging_config"] == {
        "encoding": "TEXT",
        "log_level": "DEBUG",
        "logs_dir": None,
        "enable_access_log": True,
        "additional_log_standard_attrs": [],
    }
    model = schema.LoggingConfig(encoding="JSON")
    assert Hello.options(logging_config=model).options_.ignored["logging_config"]["encoding"] == "JSON"
    assert Hello.options(logging_config=None).options_.ignored["logging_config"] is None


def test_run_logging_config_error_is_ray_s(http: httpx.Client) -> None:
    """serve.run reports a bad app logging_config as Ray does (DeploymentConfig's error)
    and deploys nothing; an empty dict, like None, is not checked."""
    with pytest.raises(ValidationError, match=r"for DeploymentConfig\nlogging_config.log_level"):
        serve.run(Hello.bind(), name="bad", route_prefix="/bad", logging_config={"log_level": "x"})
    assert "bad" not in serve.status().applications
    serve.run(Hello.bind(), name="ok", route_prefix="/ok", logging_config={})
    assert http.get("/ok").text == "hello"


# -- models --------------------------------------------------------------------------------


def test_logging_config_equality_and_attrs() -> None:
    """Ray's quirks: equality ignores `additional_log_standard_attrs` and the model is
    unhashable; the attributes come back de-duplicated."""
    assert schema.LoggingConfig() == schema.LoggingConfig(additional_log_standard_attrs=["name"])
    assert schema.LoggingConfig() != schema.LoggingConfig(log_level="DEBUG")
    assert schema.LoggingConfig() != schema.LoggingConfig().model_dump()
    with pytest.raises(TypeError):
        hash(schema.LoggingConfig())
    attrs = schema.LoggingConfig(additional_log_standard_attrs=["name", "lineno", "name"])
    assert attrs.additional_log_standard_attrs == ["lineno", "name"]


def test_deploy_schema_rules() -> None:
    """Per-app host/port are refused in a multi-app config; the SSL files go in pairs;
    the proxy location is one of Ray's three; target_capacity is a percentage."""
    app = {"name": "a", "import_path": "m:a"}
    with pytest.raises(ValidationError, match=r'Host "x" is set in the config for application `a`'):
        schema.ServeDeploySchema(applications=[{**app, "host": "x"}])
    with pytest.raises(ValidationError, match=r"Port 1 is set in the config for application `a`"):
        schema.ServeDeploySchema(applications=[{**app, "port": 1}])
    with pytest.raises(ValidationError, match=r"Both ssl_keyfile and ssl_certfile must be provided"):
        schema.HTTPOptionsSchema(ssl_certfile="cert.pem")
    with pytest.raises(ValidationError, match=r"Input should be 'Disabled', 'HeadOnly' or 'EveryNode'"):
        schema.ServeDeploySchema(applications=[], proxy_location="Nowhere")
    with pytest.raises(ValidationError, match=r"less than or equal to 100"):
        schema.ServeDeploySchema(applications=[], target_capacity=101)
    with pytest.raises(ValidationError, match=r"Application names must be nonempty\."):
        schema.ServeDeploySchema(applications=[{"name": "", "import_path": "m:a"}])


def test_status_enum_numbers() -> None:
    """`to_numeric()` orders statuses from worst to best, as Ray's gauges do."""
    assert [s.to_numeric() for s in schema.ApplicationStatus] == [3, 5, 1, 6, 2, 4]
    assert [s.to_numeric() for s in schema.DeploymentStatus] == [3, 6, 2, 1, 4, 5]
    assert [s.to_numeric() for s in schema.ProxyStatus] == [1, 2, 3, 4, 5]


def test_serve_namespace_exposes_schema() -> None:
    """`serve.schema` and `serve.metrics` are attributes; TracingConfig is top level, as in Ray."""
    assert serve.schema is schema
    assert serve.metrics.Counter.__module__ == "reference_impl.metrics"
    assert serve.TracingConfig is schema.TracingConfig
    assert "TracingConfig" in serve.__all__
