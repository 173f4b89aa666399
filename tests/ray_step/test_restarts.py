"""The ray adapter restarts only what a new configuration needs: Serve alone when the
environment stays the same (other HTTP options, a config file), Ray as well when it
changes or when `PYTHONPATH` holds a folder Ray's workers lack.

Run in the Ray step of CI (`tox -e ray`); skipped without Ray. The test drives the
session's adapter directly and leaves it as it found it (default settings).
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from reference_impl.ray_alias import real_ray_version

if real_ray_version() is None:  # `import ray` may be the reference's stand-in here
    pytest.skip("Ray is not installed", allow_module_level=True)

TRIVIAL_APP = """
@serve.deployment
def ok():
    return "ok"

app = ok.bind()
"""


def _node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


def test_serve_restarts_keep_ray_and_env_changes_restart_it(
    serve_instance: Any, serve_module: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if serve_instance.name != "ray":
        pytest.skip("run with --serve-impl=ray")
    defaults = {"host": "127.0.0.1", "port": 0}
    first = _node_id()
    try:
        serve_instance.restart({**defaults, "request_timeout_s": 7}, {})
        assert _node_id() == first, "other HTTP options alone restarted Ray, not only Serve"

        config = {
            "applications": [{"name": "cfg", "route_prefix": "/cfg", "import_path": serve_module(TRIVIAL_APP) + ":app"}]
        }
        assert serve_instance.deploy_config(config, {}) == ["cfg"]
        assert httpx.get(serve_instance.base_url + "/cfg", timeout=30).text == "ok"
        assert _node_id() == first, "a config file with the same environment restarted Ray, not only Serve"

        # A folder the test puts on PYTHONPATH itself: Ray's workers need it, so Ray restarts.
        (tmp_path / "own_app.py").write_text("from ray import serve\n" + TRIVIAL_APP, encoding="utf-8")
        monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
        own = {"applications": [{"name": "own", "route_prefix": "/own", "import_path": "own_app:app"}]}
        assert serve_instance.deploy_config(own, {}) == ["own"]
        assert httpx.get(serve_instance.base_url + "/own", timeout=30).text == "ok"
        second = _node_id()
        assert second != first, "Ray was kept though its workers lack a folder now on PYTHONPATH"

        serve_instance.restart(defaults, {"PYTEST_SERVE_RESTART_PROBE": "1"})
        assert _node_id() != second, "a new environment kept the Ray started with the old one"
    finally:
        serve_instance.restart(defaults, {})
