"""The markers (serve_http_options, serve_env, serve_fresh_instance, clause): their effect,
registration and usage errors."""

from __future__ import annotations

import pytest

from reference_impl.config import KEEP_ALIVE_ENV_VAR

from .helpers import Run, output_of


def test_http_options_marker_applies(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """`serve_http_options(keep_alive_timeout_s=1)` makes the proxy close an idle connection after ~1 s."""
    pytester.makepyfile(
        """
        import pytest

        from pytest_serve.http import idle_close_after

        @pytest.mark.serve_http_options(keep_alive_timeout_s=1)
        def test_one_second(serve_instance):
            closed = idle_close_after(serve_instance.base_url, max_wait=4)
            assert closed is not None and 0.5 <= closed <= 2.5, closed

        def test_default_is_longer(serve_instance):
            assert idle_close_after(serve_instance.base_url, max_wait=2) is None
        """
    )
    run_subprocess().assert_outcomes(passed=2)


def test_env_marker_set_during_start_and_restored(
    pytester: pytest.Pytester, run_subprocess: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve_env(...)` reaches the instance as it starts; os.environ is as before during and after the test."""
    monkeypatch.setenv(KEEP_ALIVE_ENV_VAR, "4")
    pytester.makepyfile(
        f"""
        import os

        import pytest

        from pytest_serve.http import idle_close_after

        KEY = {KEEP_ALIVE_ENV_VAR!r}

        @pytest.fixture(autouse=True)
        def environ_unchanged():
            before = {{k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}}
            yield
            after = {{k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}}
            assert after == before

        @pytest.mark.serve_env(**{{KEY: "1"}}, PYTEST_SERVE_ONLY_AT_START="x")
        def test_env_applies(serve_instance):
            assert os.environ[KEY] == "4"
            assert "PYTEST_SERVE_ONLY_AT_START" not in os.environ
            closed = idle_close_after(serve_instance.base_url, max_wait=4)
            assert closed is not None and 0.5 <= closed <= 2.5, closed
        """
    )
    run_subprocess().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("serve_http_options(2)", "serve_http_options takes keyword arguments only"),
        ("serve_env('X')", "serve_env takes keyword arguments only"),
    ],
)
def test_positional_marker_args_are_usage_errors(
    pytester: pytest.Pytester, run_inprocess: Run, marker: str, message: str
) -> None:
    """Positional arguments to serve_http_options/serve_env stop the run with exit code 4 and say why."""
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.{marker}
        def test_marked(serve_instance):
            pass
        """
    )
    result = run_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *test_marked: {message}*"])


def test_positional_marker_args_on_serve_config_test_are_usage_errors(
    pytester: pytest.Pytester, run_inprocess: Run
) -> None:
    """A test using serve_config gets the same usage error for a positional serve_env argument."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.serve_env("X")
        def test_marked(serve_config):
            serve_config({"applications": []})
        """
    )
    result = run_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.parametrize("option", ["host='0.0.0.0'", "port=8000"])
def test_host_or_port_option_is_usage_error(pytester: pytest.Pytester, run_inprocess: Run, option: str) -> None:
    """`serve_http_options(host=...)`/`(port=...)` is refused: the plugin chooses both."""
    name = option.split("=")[0]
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.serve_http_options({option})
        def test_marked(serve_instance):
            pass
        """
    )
    result = run_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *test_marked: serve_http_options({name}=...) is chosen by pytest-serve*"])


def test_unknown_clause_is_usage_error(pytester: pytest.Pytester, run_inprocess: Run) -> None:
    """`clause("NOPE-1")` stops the run and names the known clause IDs."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.clause("NOPE-1")
        def test_marked():
            pass
        """
    )
    result = run_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *test_marked: unknown clause ID 'NOPE-1'; known: ING-1, ING-2, *, OPS-1*"])


def test_fresh_instance_marker_gives_an_unused_instance(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """`serve_fresh_instance`: the test meets an instance no other test deployed on, and
    the next such test another."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def hello(serve):
            @serve.deployment
            def hello():
                return "hello"

            return hello

        def test_before(serve_instance, hello):
            serve_instance.deploy(hello.bind(), name="left-over", route_prefix="/left")

        @pytest.mark.serve_fresh_instance
        def test_fresh(serve, serve_instance, hello):
            assert serve.status().applications == {}
            serve_instance.deploy(hello.bind(), name="fresh-only", route_prefix="/fresh")

        @pytest.mark.serve_fresh_instance
        def test_fresh_again(serve, serve_instance):
            assert serve.status().applications == {}
        """
    )
    run_subprocess().assert_outcomes(passed=3)


def test_markers_are_listed(pytester: pytest.Pytester, run_inprocess: Run) -> None:
    """`pytest --markers` lists the three markers with their signatures."""
    result = run_inprocess("--markers")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.serve_http_options(**options): *",
            "@pytest.mark.serve_env(**variables): *",
            "@pytest.mark.serve_fresh_instance: *",
            "@pytest.mark.clause(*ids): *",
        ]
    )


def test_markers_pass_strict_markers(pytester: pytest.Pytester, run_inprocess: Run) -> None:
    """A test carrying every plugin marker runs under `--strict-markers`."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.serve_http_options(keep_alive_timeout_s=2)
        @pytest.mark.serve_env(SOME_VAR="1")
        @pytest.mark.serve_fresh_instance
        @pytest.mark.clause("RET-1")
        def test_marked():
            pass
        """
    )
    result = run_inprocess("--strict-markers")
    result.assert_outcomes(passed=1)
    assert "not found in `markers` configuration option" not in output_of(result)
