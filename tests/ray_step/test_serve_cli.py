"""Ray's own `serve deploy|status|config|shutdown --address` drive a running reference
(`reference-serve start`), through the REST API it serves as Ray's dashboard does.

Run in the Ray step of CI; skipped without Ray.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reference_impl.ray_alias import real_ray_version

yaml = pytest.importorskip("yaml")
if real_ray_version() is None:  # `import ray` may be the reference's stand-in here
    pytest.skip("Ray is not installed", allow_module_level=True)

START_TIMEOUT_S = 60.0
COMMAND_TIMEOUT_S = 120.0
APP = """
from ray import serve


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


class Started:
    def __init__(self, process: subprocess.Popen[str], serve_url: str, rest_url: str) -> None:
        self.process, self.serve_url, self.rest_url = process, serve_url, rest_url


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[Started]:
    (tmp_path / "cli_app.py").write_text(textwrap.dedent(APP), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "reference_impl", "start", "--http-port", "0", "--dashboard-port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    urls: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    while len(urls) < 2 and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(r"(?:Serving|REST API) on (http://\S+)", line)
        if found:
            urls.append(found.group(1))
    try:
        assert len(urls) == 2, f"reference-serve start printed no URLs (exit code {process.poll()})"
        yield Started(process, *urls)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ray_serve(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from ray.serve.scripts import cli; sys.exit(cli())", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def _config(path: Path, user_config: dict[str, int]) -> Path:
    config = {
        "applications": [
            {
                "name": "app1",
                "route_prefix": "/m",
                "import_path": "cli_app:build",
                "deployments": [{"name": "Model", "user_config": user_config}],
            }
        ]
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _answer(started: Started, expected: dict[str, int]) -> dict[str, object]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        response = httpx.get(started.serve_url + "/m", timeout=10)
        if response.status_code == 200 and response.json()["config"] == expected:
            return dict(response.json())
        time.sleep(0.05)
    raise AssertionError(f"the app never answered with config {expected}")


def test_ray_serve_cli_drives_a_running_reference(reference: Started, tmp_path: Path) -> None:
    address = ["--address", reference.rest_url]
    _ray_serve("deploy", str(_config(tmp_path / "one.yaml", {"a": 1})), *address, cwd=tmp_path)
    first = _answer(reference, {"a": 1})
    status = yaml.safe_load(_ray_serve("status", *address, cwd=tmp_path))
    assert status["applications"]["app1"]["status"] == "RUNNING"
    assert status["applications"]["app1"]["deployments"]["Model"]["replica_states"] == {"RUNNING": 1}
    config = yaml.safe_load(_ray_serve("config", "-n", "app1", *address, cwd=tmp_path))
    assert config["deployments"] == [{"name": "Model", "user_config": {"a": 1}}]
    _ray_serve("deploy", str(_config(tmp_path / "two.yaml", {"a": 2})), *address, cwd=tmp_path)
    assert _answer(reference, {"a": 2})["replica"] == first["replica"]  # in place, as on Ray
    _ray_serve("shutdown", "-y", *address, cwd=tmp_path)
    assert yaml.safe_load(_ray_serve("status", *address, cwd=tmp_path))["applications"] == {}
