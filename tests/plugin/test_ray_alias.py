"""The Ray alias in pytest sessions: unchanged `from ray import serve` apps run on the
reference, before collection, and the header says so."""

from __future__ import annotations

import pytest

from reference_impl.ray_alias import real_ray_version

from .helpers import Run

RAY_APP = """
from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

app = FastAPI()


@serve.deployment
class Upper:
    def __call__(self, text: str) -> str:
        return text.upper()


@serve.deployment
@serve.ingress(app)
class Front:
    def __init__(self, upper: DeploymentHandle):
        self.upper = upper

    @app.get("/")
    async def root(self, text: str) -> str:
        return await self.upper.remote(text)


graph = Front.bind(Upper.bind())
"""

TEST_APP = """
import ray
from myapp import graph


def test_graph(serve_app):
    app = serve_app(graph, route_prefix="/up")
    assert app.http.get("/up", params={"text": "abc"}).json() == "ABC"


def test_ray_is_the_stand_in():
    assert ray.serve.__name__ == "reference_impl.serve"
"""

CONFTEST_IMPORTS_RAY = """
from ray import serve  # conftests are imported before the alias would be too late


def pytest_configure(config):
    config.serve_from_conftest = serve.__name__
"""


@pytest.fixture
def ray_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(myapp=RAY_APP, test_app=TEST_APP)
    pytester.makeconftest(CONFTEST_IMPORTS_RAY)
    return pytester


def test_ray_app_runs_on_the_reference(ray_project: pytest.Pytester, run_subprocess: Run) -> None:
    """A test module and a conftest that import `ray.serve` run on the default
    implementation, Ray installed or not, and the header names what `ray` is."""
    result = run_subprocess()
    result.assert_outcomes(passed=2)
    beside = "Ray * is installed and hidden" if real_ray_version() else "Ray is not installed"
    result.stdout.fnmatch_lines(
        [
            "pytest-serve: implementation reference; `from ray import serve` runs on the reference "
            f"implementation ({beside}*"
        ]
    )


@pytest.mark.skipif(real_ray_version() is not None, reason="needs an environment without Ray")
def test_no_alias_option_leaves_import_ray_alone(ray_project: pytest.Pytester, run_subprocess: Run) -> None:
    """With --no-serve-ray-alias (or PYTEST_SERVE_RAY_ALIAS=0) nothing stands in for Ray:
    without Ray installed the conftest's `from ray import serve` fails as it would."""
    result = run_subprocess("--no-serve-ray-alias")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*ModuleNotFoundError: No module named 'ray'*"])


def test_alias_off_for_other_implementations(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """With another implementation the header says `import ray` is not aliased."""
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = run_subprocess("--serve-impl=reference_impl.serve")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "pytest-serve: implementation reference_impl.serve; `import ray` is not aliased "
            "(--serve-impl=reference_impl.serve)"
        ]
    )


def test_env_and_ini_turn_the_alias_off(
    pytester: pytest.Pytester, run_subprocess: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PYTEST_SERVE_RAY_ALIAS=0 and `serve_ray_alias = false` each turn it off."""
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    monkeypatch.setenv("PYTEST_SERVE_RAY_ALIAS", "0")
    run_subprocess().stdout.fnmatch_lines(["*`import ray` is not aliased (PYTEST_SERVE_RAY_ALIAS=0)"])
    monkeypatch.delenv("PYTEST_SERVE_RAY_ALIAS")
    pytester.makeini("[pytest]\nserve_ray_alias = false\n")
    run_subprocess().stdout.fnmatch_lines(["*`import ray` is not aliased (serve_ray_alias = false)"])
