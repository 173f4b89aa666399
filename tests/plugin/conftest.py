"""Fixtures for the plugin's own tests: pytester runs of small test files.

Runs that start the reference implementation (process-wide state, threads, env) go
through `run_subprocess`, a fresh interpreter each; runs that stop at configuration
or collection, or never start an instance, go through `run_inprocess` for speed.
Both add COMMON_ARGS (`-p no:cacheprovider`), so every run also checks the plugin works without it.
"""

from __future__ import annotations

import pytest

from reference_impl.config import KEEP_ALIVE_ENV_VAR

from .helpers import Run

#: Bound of one subprocess run; the outer `timeout` ini key bounds in-process runs.
RUN_TIMEOUT_S = 120.0
#: Options of every run: no cache; pytest-asyncio's loop scope set (else it warns); and
#: two unrelated plugins off (hypothesis alone takes ~1 s to import in every subprocess).
COMMON_ARGS = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",
    "-p",
    "no:benchmark",
    "-o",
    "asyncio_default_fixture_loop_scope=function",
)


def pytest_configure(config: pytest.Config) -> None:
    # NOTE: `pytest_plugins = ["pytester"]` here would break `pytest` run from the repo
    # root: pytest refuses `pytest_plugins` in a conftest below the rootdir's initial ones
    # ("Defining 'pytest_plugins' in a non-top-level conftest is no longer supported";
    # https://docs.pytest.org/en/stable/deprecations.html#pytest-plugins-in-non-top-level-conftest-files).
    # Registering it from this hook works from any directory.
    config.pluginmanager.import_plugin("pytester")


@pytest.fixture(autouse=True)
def _clean_serve_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Function scope, autouse: no implementation choice or keep-alive setting leaks in from the caller's env."""
    monkeypatch.delenv("PYTEST_SERVE_IMPL", raising=False)
    monkeypatch.delenv(KEEP_ALIVE_ENV_VAR, raising=False)


@pytest.fixture
def run_subprocess(pytester: pytest.Pytester) -> Run:
    """Function scope · `run(*args) -> RunResult` · pytest in a fresh interpreter, bounded by RUN_TIMEOUT_S."""

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(*COMMON_ARGS, *args, timeout=RUN_TIMEOUT_S)

    return run


@pytest.fixture
def run_inprocess(pytester: pytest.Pytester) -> Run:
    """Function scope · `run(*args) -> RunResult` · pytest in this process (modules it imports are unloaded after)."""
    pytester.syspathinsert()

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_inprocess(*COMMON_ARGS, *args)

    return run
