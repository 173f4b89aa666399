"""Tests are grouped by the instance settings they need, so the instance restarts once per setting."""

from __future__ import annotations

import pytest

from .helpers import Run

OPTIONS_CHECK = """
    import pytest

    from reference_impl import api

    A = pytest.mark.serve_http_options(keep_alive_timeout_s=7)
    B = pytest.mark.serve_http_options(request_timeout_s=9)

    def options():
        return api.running_instance().http_options
"""


def test_restarts_once_per_distinct_config(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """Tests needing A, default, A, B, default run as default, default, A, A, B: three starts."""
    pytester.makepyfile(
        OPTIONS_CHECK
        + """
    @A
    def test_a_1(serve_instance):
        assert options().keep_alive_timeout_s == 7

    def test_default_1(serve_instance):
        assert options().keep_alive_timeout_s == 5 and options().request_timeout_s is None

    @A
    def test_a_2(serve_instance):
        assert options().keep_alive_timeout_s == 7

    @B
    def test_b(serve_instance):
        assert options().request_timeout_s == 9

    def test_default_2(serve_app):
        assert options().keep_alive_timeout_s == 5 and options().request_timeout_s is None
    """
    )
    result = run_subprocess("-v")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        [
            "*::test_default_1 PASSED*",
            "*::test_default_2 PASSED*",
            "*::test_a_1 PASSED*",
            "*::test_a_2 PASSED*",
            "*::test_b PASSED*",
            "pytest-serve: reference started 3 time(s) for 3 distinct configuration(s)",
        ]
    )


def test_serve_config_tests_run_last(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """Tests using serve_config run after all others, each on a fresh instance."""
    pytester.makepyfile(
        cfg_app="""
        from reference_impl import serve

        @serve.deployment
        def hello():
            return "hello"

        app = hello.bind()
        """
    )
    pytester.makepyfile(
        OPTIONS_CHECK
        + """
    CONFIG = {"applications": [{"name": "cfg", "route_prefix": "/cfg", "import_path": "cfg_app:app"}]}
    INSTANCES = []

    def test_config_1(serve_config):
        (app,) = serve_config(CONFIG)
        assert app.http.get("/cfg").text == "hello"
        INSTANCES.append(api.running_instance())

    @A
    def test_a(serve_instance):
        assert options().keep_alive_timeout_s == 7

    def test_default(serve_instance):
        assert options().keep_alive_timeout_s == 5

    def test_config_2(serve_config):
        (app,) = serve_config(CONFIG)
        assert app.http.get("/cfg").text == "hello"
        assert api.running_instance() is not INSTANCES[0]  # a fresh instance

    def test_no_instance():
        pass
    """
    )
    result = run_subprocess("-v")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        [
            "*::test_default PASSED*",
            "*::test_no_instance PASSED*",
            "*::test_a PASSED*",
            "*::test_config_1 PASSED*",
            "*::test_config_2 PASSED*",
            "pytest-serve: reference started 4 time(s) for 3 distinct configuration(s)",
        ]
    )


def test_xdist_keeps_each_config_on_one_worker(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """Under -n 2 --dist loadgroup, each non-default configuration runs on one worker only.

    Tests that carry their own xdist_group mark keep it (also on pytest >= 9.2, where
    xdist itself can no longer group).
    """
    pytester.makepyfile(
        OPTIONS_CHECK
        + """
    import os

    def log(config):
        with open("workers.log", "a") as f:
            f.write(f"{config} {os.environ['PYTEST_XDIST_WORKER']}\\n")

    @A
    @pytest.mark.parametrize("n", range(4))
    def test_a(serve_instance, n):
        assert options().keep_alive_timeout_s == 7
        log("A")

    @B
    @pytest.mark.parametrize("n", range(4))
    def test_b(serve_instance, n):
        assert options().request_timeout_s == 9
        log("B")

    @pytest.mark.parametrize("n", range(4))
    def test_default(serve_instance, n):
        log("default")

    @A
    @pytest.mark.xdist_group("mine")
    @pytest.mark.parametrize("n", range(3))
    def test_own_group(serve_instance, n):
        log("mine")

    @pytest.mark.xdist_group("mine")
    def test_own_group_default_config():
        log("mine")
    """
    )
    result = run_subprocess("-n", "2", "--dist", "loadgroup")
    result.assert_outcomes(passed=16)
    workers: dict[str, set[str]] = {}
    for line in (pytester.path / "workers.log").read_text().splitlines():
        config, worker = line.split()
        workers.setdefault(config, set()).add(worker)
    assert len(workers["A"]) == 1 and len(workers["B"]) == 1 and len(workers["mine"]) == 1, workers
    # Starts add up over the workers: default on each worker that ran a default test,
    # A and B once each, A again for the test in its own group.
    result.stdout.re_match_lines([r"pytest-serve: reference started [3-6] time\(s\) for 3 distinct configuration\(s\)"])
