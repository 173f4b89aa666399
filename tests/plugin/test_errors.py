"""Failures to start an implementation or deploy an app: one line, no traceback, no retry storm."""

from __future__ import annotations

import pytest

from .helpers import Run, output_of

BROKEN_ADAPTER = """
    from pathlib import Path

    import reference_impl.serve
    from pytest_serve import Adapter

    STARTS = Path(__file__).with_name("starts.log")

    class Broken(Adapter):
        name = "broken"

        @property
        def serve(self):
            return reference_impl.serve

        @property
        def base_url(self):
            raise AssertionError("never asked: the instance never started")

        def start(self, http_options, env):
            with STARTS.open("a") as log:
                log.write("start\\n")
            raise RuntimeError("port exploded")

        def stop(self):
            pass
"""

BROKEN_TESTS = """
    import pytest

    def test_instance(serve_instance):
        pass

    def test_app(serve_app):
        pass

    @pytest.mark.serve_http_options(keep_alive_timeout_s=2)
    def test_other_config(serve_instance):
        pass
"""

START_FAILURE = "pytest-serve: starting broken with defaults failed: RuntimeError: port exploded"

EXPLODING_APP = """
    def test_boom(serve, serve_app):
        @serve.deployment
        class Exploding:
            def __init__(self):
                raise ValueError("no model file")

            def __call__(self, request):
                return "unreachable"

        serve_app(Exploding.bind())

    def test_next_app_deploys(serve, serve_app):
        @serve.deployment
        def fine():
            return "fine"

        assert serve_app(fine.bind()).http.get("/").text == "fine"
"""

DEPLOY_FAILURE = (
    "pytest-serve: deploying Application('Exploding') as 'default' at '/' on reference failed: "
    "*ValueError: no model file"
)


def test_start_failure_is_one_line_and_not_retried(pytester: pytest.Pytester, run_inprocess: Run) -> None:
    """An adapter whose start() raises errors every test with one line, and is started only once."""
    pytester.makepyfile(broken_adapter=BROKEN_ADAPTER)
    pytester.makepyfile(BROKEN_TESTS)
    result = run_inprocess("--serve-impl=broken_adapter:Broken")
    result.assert_outcomes(errors=3)
    assert result.outlines.count(START_FAILURE) == 3, output_of(result)
    assert "Traceback" not in output_of(result)
    assert (pytester.path / "starts.log").read_text().splitlines() == ["start"]


def test_start_failure_shows_no_exception_chain(pytester: pytest.Pytester, run_inprocess: Run) -> None:
    """The start failure is reported without the chain of exceptions behind it."""
    pytester.makepyfile(broken_adapter=BROKEN_ADAPTER)
    pytester.makepyfile(BROKEN_TESTS)
    result = run_inprocess("--serve-impl=broken_adapter:Broken")
    result.assert_outcomes(errors=3)
    assert "During handling of the above exception" not in output_of(result)
    assert "The above exception was the direct cause" not in output_of(result)


def test_app_constructor_failure_is_one_line(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """An app whose constructor raises fails its test with one line naming the app; the next test deploys fine."""
    pytester.makepyfile(EXPLODING_APP)
    result = run_subprocess()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([DEPLOY_FAILURE])
    assert "Traceback" not in output_of(result)


def test_app_constructor_failure_shows_no_exception_chain(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """The deploy failure is reported without the chain of exceptions behind it."""
    pytester.makepyfile(EXPLODING_APP)
    result = run_subprocess()
    result.assert_outcomes(failed=1, passed=1)
    assert "During handling of the above exception" not in output_of(result)
