"""config_file.py: a Serve config file means on the reference what it means on Ray.

`deployments:` overrides reach the replicas, typed builders get their model, the fields
that only matter on a cluster are accepted and named in the log, and an override for a
deployment the app does not have is an error.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pydantic
import pytest

from reference_impl import api, serve
from reference_impl.config import ConfigError
from reference_impl.config_file import load_config, no_effect

APP = """
from pydantic import BaseModel
from reference_impl import serve


@serve.deployment
class Counter:
    def __init__(self):
        self.config = None

    def reconfigure(self, config):
        self.config = config

    def __call__(self):
        context = serve.get_replica_context()
        return {"config": self.config, "replicas": context.world_size}


@serve.deployment
class Front:
    def __init__(self, counter, greeting="hello"):
        self.counter, self.greeting = counter, greeting

    async def __call__(self):
        return {"greeting": self.greeting, **(await self.counter.remote())}


app = Front.bind(Counter.bind())


class Greeting(BaseModel):
    greeting: str
    times: int = 1


def typed(args: Greeting):
    return Front.bind(Counter.bind(), greeting=args.greeting * args.times)


def untyped(args):
    return Front.bind(Counter.bind(), greeting=args.get("greeting", "none"))


def reads_env(args):
    import os

    return Front.bind(Counter.bind(), greeting=os.environ.get("CFG_TEST_GREETING", "unset"))
"""


@pytest.fixture
def module(write_module: Callable[[str, str], str]) -> str:
    return write_module("cfg_app", APP)


def _config(module: str, **app: Any) -> dict[str, Any]:
    return {"http_options": {"port": 0}, "applications": [{"import_path": f"{module}:app", **app}]}


def _get(path: str = "/") -> Any:
    instance = api.running_instance()
    assert instance is not None
    return httpx.get(instance.url + path, timeout=10).json()


@pytest.fixture(autouse=True)
def _shut_down() -> Iterator[None]:
    yield
    serve.shutdown()
    os.environ.pop("CFG_TEST_GREETING", None)


def test_deployment_overrides_reach_the_replicas(module: str) -> None:
    """`num_replicas: 2` gives two replicas and `user_config` reaches `reconfigure`, as on Ray."""
    api.run_config(_config(module, deployments=[{"name": "Counter", "num_replicas": 2, "user_config": {"n": 3}}]))
    assert _get() == {"greeting": "hello", "config": {"n": 3}, "replicas": 2}
    counter = serve.status().applications["default"].deployments["Counter"]
    assert counter.replica_states == {"RUNNING": 2}, counter.replica_states


def test_override_of_a_deployment_the_app_lacks_is_an_error(module: str) -> None:
    with pytest.raises(ConfigError, match=r"nonexistent deployment 'Missing'.*\['Counter', 'Front'\]"):
        api.run_config(_config(module, deployments=[{"name": "Missing", "num_replicas": 2}]))


def test_typed_builder_gets_its_model(module: str) -> None:
    api.run_config(_config(module, import_path=f"{module}:typed", args={"greeting": "hi", "times": 2}))
    assert _get()["greeting"] == "hihi"
    serve.shutdown()
    with pytest.raises(pydantic.ValidationError, match="greeting"):
        api.run_config(_config(module, import_path=f"{module}:typed", args={"times": 2}))
    api.run_config(_config(module, import_path=f"{module}:untyped", args={"greeting": "plain"}))
    assert _get()["greeting"] == "plain"


def test_env_vars_are_set_before_the_app_is_built(module: str) -> None:
    config = _config(module, import_path=f"{module}:reads_env", runtime_env={"env_vars": {"CFG_TEST_GREETING": "env"}})
    api.run_config(config)
    assert _get()["greeting"] == "env"


def test_cluster_fields_are_accepted_and_named(module: str, caplog: pytest.LogCaptureFixture) -> None:
    """What `serve build` writes (grpc_options) and what only a cluster uses are accepted,
    and named once in the log as having no effect here."""
    config = _config(module, autoscaling_policy={"policy_function": "x:y"}, logging_config={"log_level": "INFO"})
    config.update(
        grpc_options={"port": 9000, "grpc_servicer_functions": []},
        controller_options={"runtime_env": {"env_vars": {"A": "1"}}},
        target_capacity=50,
    )
    with caplog.at_level(logging.WARNING, logger="reference_impl"):
        api.run_config(config)
    assert _get()["greeting"] == "hello"
    named = [r.getMessage() for r in caplog.records if "no effect in one process" in r.getMessage()]
    assert len(named) == 1, named
    for field in ("grpc_options", "controller_options", "target_capacity", "applications[default].autoscaling_policy"):
        assert field in named[0], named[0]


def test_serve_build_output_loads(module: str) -> None:
    """A file as Ray's `serve build` writes it (proxy_location, http_options with Ray's
    defaults, grpc_options, logging_config, deployments) validates and deploys."""
    built = {
        "proxy_location": "EveryNode",
        "http_options": {"host": "127.0.0.1", "port": 0},
        "grpc_options": {"port": 9000, "grpc_servicer_functions": []},
        "logging_config": {"encoding": "TEXT", "log_level": "INFO", "logs_dir": None, "enable_access_log": True},
        "applications": [
            {
                "name": "app1",
                "route_prefix": "/",
                "import_path": f"{module}:app",
                "runtime_env": {},
                "deployments": [{"name": "Counter"}, {"name": "Front"}],
            }
        ],
    }
    config = load_config(built)
    assert no_effect(config) == ["grpc_options"]
    api.run_config(config)
    assert _get()["replicas"] == 1


# -- redeploys: as Ray's declarative config updates ---------------------------------------------

REDEPLOY_APP = """
import itertools
from reference_impl import serve

inits = itertools.count(1)


@serve.deployment
class Model:
    def __init__(self):
        self.init, self.config, self.reconfigures = next(inits), None, 0

    def reconfigure(self, config):
        self.config, self.reconfigures = config, self.reconfigures + 1

    def __call__(self):
        return {
            "replica": serve.get_replica_context().replica_id.unique_id,
            "init": self.init,
            "config": self.config,
            "reconfigures": self.reconfigures,
        }


def build(args):
    return Model.bind()


app = Model.bind()
"""


@pytest.fixture
def redeploy_module(write_module: Callable[[str, str], str]) -> str:
    return write_module("cfg_redeploy", REDEPLOY_APP)


def _model_config(module: str, *, args: dict[str, Any] | None = None, **model: Any) -> dict[str, Any]:
    app: dict[str, Any] = {"name": "m", "route_prefix": "/m", "import_path": f"{module}:build"}
    if args is not None:
        app["args"] = args
    app["deployments"] = [{"name": "Model", "num_replicas": 1, "user_config": {"a": 1}, **model}]
    return {"http_options": {"port": 0}, "applications": [app]}


def _replicas(path: str = "/m", calls: int = 4) -> dict[str, Any]:
    """The answers of the replicas a few calls reach, by replica ID."""
    return {answer["replica"]: answer for answer in (_get(path) for _ in range(calls))}


def test_user_config_change_reconfigures_the_running_replica(redeploy_module: str) -> None:
    """Only `user_config` changed: the same replica (no new `__init__`) gets `reconfigure`."""
    api.run_config(_model_config(redeploy_module))
    (before,) = _replicas().values()
    api.run_config(_model_config(redeploy_module, user_config={"a": 2}))
    (after,) = _replicas().values()
    assert (after["replica"], after["init"]) == (before["replica"], before["init"])
    assert (after["config"], after["reconfigures"]) == ({"a": 2}, 2)


def test_num_replicas_change_keeps_the_running_replica(redeploy_module: str) -> None:
    """Scaling 1 -> 2 adds a replica beside the running one (which keeps serving); 2 -> 1
    stops one."""
    api.run_config(_model_config(redeploy_module))
    (before,) = _replicas().values()
    api.run_config(_model_config(redeploy_module, num_replicas=2))
    assert _replica_states() == {"RUNNING": 2}
    assert _replicas()[before["replica"]]["init"] == before["init"]
    api.run_config(_model_config(redeploy_module, num_replicas=1))
    assert _replica_states() == {"RUNNING": 1}


def _replica_states() -> dict[str, int]:
    return dict(serve.status().applications["m"].deployments["Model"].replica_states)


@pytest.mark.parametrize(
    "change",
    [{"args": {"v": "2"}}, {"ray_actor_options": {"num_cpus": 0.2}}],
    ids=["args", "ray_actor_options"],
)
def test_code_or_resource_change_replaces_the_replica(redeploy_module: str, change: dict[str, Any]) -> None:
    """New builder `args` (a new code version) or new `ray_actor_options` (a new actor):
    the replica is replaced by one that ran `__init__`."""
    api.run_config(_model_config(redeploy_module, args={"v": "1"}, ray_actor_options={"num_cpus": 0.1}))
    (before,) = _replicas().values()
    changed = {"args": {"v": "1"}, "ray_actor_options": {"num_cpus": 0.1}} | change
    api.run_config(_model_config(redeploy_module, **changed))
    (after,) = _replicas().values()
    assert after["replica"] != before["replica"] and after["init"] > before["init"]
    assert (after["config"], after["reconfigures"]) == ({"a": 1}, 1)


def test_route_prefix_change_moves_the_app_in_place(redeploy_module: str) -> None:
    api.run_config(_model_config(redeploy_module))
    (before,) = _replicas()
    config = _model_config(redeploy_module)
    config["applications"][0]["route_prefix"] = "/moved"
    api.run_config(config)
    assert list(_replicas("/moved")) == [before]
    instance = api.running_instance()
    assert instance is not None
    assert httpx.get(instance.url + "/m", timeout=10).status_code == 404


def test_apps_a_config_no_longer_lists_are_deleted(redeploy_module: str) -> None:
    """Declarative: a config app left out of the next config is deleted; an app deployed
    from Python (`serve.run`) is not the config's to delete."""
    two = _model_config(redeploy_module)
    two["applications"].append({"name": "other", "route_prefix": "/other", "import_path": f"{redeploy_module}:app"})
    api.run_config(two)
    serve.run(sys.modules[redeploy_module].Model.bind(), name="py", route_prefix="/py")
    api.run_config(_model_config(redeploy_module))
    assert sorted(serve.status().applications) == ["m", "py"]
