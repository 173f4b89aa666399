"""rest_api.py and the client commands: Serve's REST API on a running reference, with the
formats and semantics measured on Ray 2.60's dashboard (PUT validated at once and applied
in the background, build failures as DEPLOY_FAILED, DELETE as a shutdown)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_impl import api, cli
from reference_impl.rest_api import RestAPI

APP = """
from reference_impl import serve


@serve.deployment
class Model:
    def __init__(self):
        self.config = None

    def reconfigure(self, config):
        self.config = config

    def __call__(self):
        return {"config": self.config, "replica": serve.get_replica_context().replica_id.unique_id}


def build(args):
    return Model.bind()
"""
DEADLINE_S = 30.0


@pytest.fixture
def module(write_module: Callable[[str, str], str]) -> str:
    return write_module("rest_app", APP)


@pytest.fixture
def rest() -> Iterator[RestAPI]:
    server = RestAPI("127.0.0.1", 0)
    yield server
    server.stop()
    api.shutdown()


def _config(module: str, user_config: dict[str, Any], **app: Any) -> dict[str, Any]:
    entry = {"name": "app1", "route_prefix": "/m", "import_path": f"{module}:build", **app}
    entry.setdefault("deployments", [{"name": "Model", "user_config": user_config}])
    return {"http_options": {"port": 0}, "applications": [entry]}


def _until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"not within {DEADLINE_S} s: {what}")


def _status(rest: RestAPI, name: str = "app1") -> str | None:
    app = httpx.get(rest.url + "/api/serve/applications/", timeout=10).json()["applications"].get(name)
    return None if app is None else str(app["status"])


def test_version_and_empty_details(rest: RestAPI) -> None:
    """What Ray's CLI checks first, and the details of no Serve at all (Ray's exact form)."""
    version = httpx.get(rest.url + "/api/ray/version", timeout=10).json()
    assert version["ray_version"] == "2.60.0" and version["version"] == "4"
    empty = httpx.get(rest.url + "/api/serve/applications/", timeout=10).json()
    assert empty == {"controller_info": {}, "proxies": {}, "applications": {}, "target_capacity": None}


def test_put_deploys_and_redeploy_reconfigures_in_place(rest: RestAPI, module: str) -> None:
    url = rest.url + "/api/serve/applications/"
    assert httpx.put(url, json=_config(module, {"a": 1}), timeout=10).status_code == 200
    _until(lambda: _status(rest) == "RUNNING", "app1 RUNNING")
    instance = api.running_instance()
    assert instance is not None
    first = httpx.get(instance.url + "/m", timeout=10).json()
    assert first["config"] == {"a": 1}
    assert httpx.put(url, json=_config(module, {"a": 2}), timeout=10).status_code == 200
    _until(lambda: httpx.get(instance.url + "/m", timeout=10).json()["config"] == {"a": 2}, "user_config a=2")
    assert httpx.get(instance.url + "/m", timeout=10).json()["replica"] == first["replica"]
    details = httpx.get(url, timeout=10).json()
    app = details["applications"]["app1"]
    assert app["source"] == "declarative"
    assert app["deployed_app_config"] == _config(module, {"a": 2})["applications"][0]
    (replica,) = app["deployments"]["Model"]["replicas"]
    assert (replica["replica_id"], replica["state"], replica["pid"]) == (first["replica"], "RUNNING", os.getpid())


def test_invalid_put_is_400_with_pydantic_message(rest: RestAPI, module: str) -> None:
    config = _config(module, {"a": 1}, deployments=[{"name": "Model", "num_replicas": "many"}])
    response = httpx.put(rest.url + "/api/serve/applications/", json=config, timeout=10)
    assert response.status_code == 400
    assert "validation error for ServeDeploySchema" in response.text and "num_replicas" in response.text
    assert api.running_instance() is None


def test_build_failure_shows_as_deploy_failed_beside_healthy_apps(rest: RestAPI, module: str) -> None:
    """As on Ray: the PUT is accepted; the app whose override names no deployment of it is
    DEPLOY_FAILED with the error in its message; the other app runs."""
    good = _config(module, {"a": 1})
    bad = {"name": "app2", "route_prefix": "/b", "import_path": f"{module}:build", "deployments": [{"name": "Nope"}]}
    good["applications"].append(bad)
    assert httpx.put(rest.url + "/api/serve/applications/", json=good, timeout=10).status_code == 200
    _until(lambda: _status(rest, "app2") == "DEPLOY_FAILED", "app2 DEPLOY_FAILED")
    assert _status(rest) == "RUNNING"
    details = httpx.get(rest.url + "/api/serve/applications/", timeout=10).json()["applications"]["app2"]
    assert "nonexistent deployment 'Nope'" in details["message"] and details["deployments"] == {}


def test_client_commands_drive_it(
    rest: RestAPI, module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`reference-serve deploy|status|config|shutdown -a URL`, with Ray's output."""
    path = tmp_path / "serve.yaml"
    import yaml

    path.write_text(yaml.safe_dump(_config(module, {"a": 1})), encoding="utf-8")
    assert cli.main(["deploy", str(path), "-a", rest.url, "--name", "ignored"]) == 0
    out = capsys.readouterr().out
    assert "Passed in name is ignored when using config file" in out and "Sent deploy request successfully." in out
    _until(lambda: _status(rest) == "RUNNING", "app1 RUNNING")
    assert cli.main(["status", "-a", rest.url]) == 0
    status = capsys.readouterr().out
    assert "applications:\n  app1:\n    status: RUNNING\n" in status and "\n\ntarget_capacity: null\n" in status
    assert cli.main(["config", "-a", rest.url, "-n", "app1"]) == 0
    config = capsys.readouterr().out
    assert config.startswith("name: app1\n\nroute_prefix: /m\n\n") and "user_config:\n    a: 1\n" in config
    assert cli.main(["status", "-a", rest.url, "-n", "missing"]) == 0
    assert capsys.readouterr().out == 'Application "missing" does not exist.\n'
    assert cli.main(["config", "-a", rest.url, "-n", "missing"]) == 0
    assert capsys.readouterr().out == 'No config has been deployed for application "missing".\n'
    assert cli.main(["shutdown", "-y", "-a", rest.url]) == 0
    assert "Sent shutdown request" in capsys.readouterr().out
    assert api.running_instance() is None
    assert cli.main(["shutdown", "-y", "-a", rest.url]) == 0
    assert "No Serve instance found running" in capsys.readouterr().out


def test_client_without_a_rest_api_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "-a", "http://127.0.0.1:9"]) == 1
    assert "Failed to connect to Ray at address: http://127.0.0.1:9" in capsys.readouterr().err
    assert cli.main(["status", "-a", "127.0.0.1:9"]) == 1
    assert "must start with http:// or https://" in capsys.readouterr().err
