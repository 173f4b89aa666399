"""Choosing the implementation: option, env var, ini key, module paths, vendor adapters, and bad values."""

from __future__ import annotations

import pytest

from .helpers import Run, output_of, read_report

NAME_CHECK = """
    def test_name(serve_instance):
        assert serve_instance.name == {name!r}
"""

DEPLOY_CHECK = """
    def test_deploy(serve, serve_app):
        @serve.deployment
        class Hello:
            def __call__(self, request):
                return "hello"

        app = serve_app(Hello.bind(), route_prefix="/hello")
        assert app.http.get("/hello").text == "hello"
"""

VENDOR_ADAPTER = """
    from pytest_serve import Adapter
    from pytest_serve.adapters import patched_environ
    from reference_impl import api, serve

    class MyAdapter(Adapter):
        '''Acme Serve, played by the reference implementation with its own start/stop.'''

        name = "acme"
        deviations = {"RET-3": "acme always answers application/json"}
        starts = 0

        @property
        def serve(self):
            return serve

        @property
        def version(self):
            return "9.9"

        @property
        def base_url(self):
            return api.running_instance().url

        def start(self, http_options, env):
            type(self).starts += 1
            with patched_environ(env):
                serve.start(http_options=dict(http_options))

        def stop(self):
            serve.shutdown()
"""


def test_default_impl_is_reference(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """Without --serve-impl, env var or ini key, the reference implementation runs."""
    pytester.makepyfile(NAME_CHECK.format(name="reference"))
    result = run_subprocess()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["pytest-serve: reference started 1 time(s) for 1 distinct configuration(s)"])


def test_env_var_selects_impl(pytester: pytest.Pytester, run_subprocess: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """`PYTEST_SERVE_IMPL` chooses the implementation."""
    monkeypatch.setenv("PYTEST_SERVE_IMPL", "reference_impl.serve")
    pytester.makepyfile(NAME_CHECK.format(name="reference_impl.serve"))
    run_subprocess().assert_outcomes(passed=1)


def test_ini_selects_impl(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """The `serve_impl` ini key chooses the implementation."""
    pytester.makeini("[pytest]\nserve_impl = reference_impl.serve\n")
    pytester.makepyfile(NAME_CHECK.format(name="reference_impl.serve"))
    run_subprocess().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("option", "env", "ini", "ok"),
    [
        pytest.param("reference", "no such", "no such", True, id="option-beats-env-and-ini"),
        pytest.param(None, "reference", "no such", True, id="env-beats-ini"),
        pytest.param(None, "no such", "reference", False, id="env-is-used-over-ini"),
    ],
)
def test_impl_precedence(
    pytester: pytest.Pytester,
    run_inprocess: Run,
    monkeypatch: pytest.MonkeyPatch,
    option: str | None,
    env: str,
    ini: str,
    ok: bool,
) -> None:
    """--serve-impl beats PYTEST_SERVE_IMPL, which beats the serve_impl ini key."""
    monkeypatch.setenv("PYTEST_SERVE_IMPL", env)
    pytester.makeini(f"[pytest]\nserve_impl = {ini}\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = run_inprocess(*([f"--serve-impl={option}"] if option else []))
    assert result.ret == (pytest.ExitCode.OK if ok else pytest.ExitCode.USAGE_ERROR), output_of(result)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "no such",
            "pytest-serve: --serve-impl='no such' is not valid; use one of ['reference', 'ray', 'ray-local'], "
            "a module path ('pkg.serve') or 'pkg.module:AdapterClass'",
            id="bogus",
        ),
        pytest.param(
            "no_such_serve_module",
            "pytest-serve: Cannot import Serve implementation module 'no_such_serve_module': "
            "No module named 'no_such_serve_module'.",
            id="missing-module",
        ),
        pytest.param(
            "no_such_serve_module:Adapter",
            "pytest-serve: --serve-impl=no_such_serve_module:Adapter: cannot import 'no_such_serve_module'",
            id="missing-adapter-module",
        ),
        pytest.param(
            "half_serve",
            "pytest-serve: Module 'half_serve' lacks the Serve API function(s) "
            "['ingress', 'start', 'delete', 'shutdown'];",
            id="module-lacking-api",
        ),
        pytest.param(
            "half_serve:run",
            "pytest-serve: --serve-impl=half_serve:run: half_serve.run is not a subclass of "
            "pytest_serve.adapters.Adapter",
            id="not-an-adapter",
        ),
    ],
)
def test_bad_impl_is_one_line_usage_error(
    pytester: pytest.Pytester, run_inprocess: Run, value: str, message: str
) -> None:
    """A bad --serve-impl exits with code 4 and one line naming the problem, without a traceback."""
    pytester.makepyfile(half_serve="def deployment(): pass\ndef run(): pass\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = run_inprocess(f"--serve-impl={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"ERROR: {message}"), errors
    assert "Traceback" not in output_of(result)


def test_bad_impl_from_env_var_is_usage_error(
    pytester: pytest.Pytester, run_inprocess: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad PYTEST_SERVE_IMPL fails up front like a bad option."""
    monkeypatch.setenv("PYTEST_SERVE_IMPL", "no such")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = run_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: pytest-serve: --serve-impl='no such' is not valid*"])


def test_vendor_adapter_runs_tests_and_reports(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """A vendor Adapter given as module:Class runs the tests; the report names it and its deviation."""
    pytester.makepyfile(vendor_adapter=VENDOR_ADAPTER)
    pytester.makepyfile(
        DEPLOY_CHECK
        + """
    import pytest

    def test_acme(serve_instance):
        assert (serve_instance.name, serve_instance.version) == ("acme", "9.9")
        assert type(serve_instance).starts == 1

    @pytest.mark.clause("RET-2")
    def test_ret_2(serve, serve_app):
        @serve.deployment
        class Query:
            def __call__(self, request):
                return request.query_params

        app = serve_app(Query.bind())
        assert app.http.get("/?a=b").json() == {"a": "b"}

    @pytest.mark.clause("RET-3")
    def test_ret_3():
        assert False, "acme answered application/json"
    """
    )
    report_dir = pytester.path / "report"
    result = run_subprocess("--serve-impl=vendor_adapter:MyAdapter", f"--serve-report={report_dir}")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-serve conformance*",
            "RET-2 * pass *",
            "RET-3 * deviation * declared: acme always answers application/json",
            "acme 9.9: NOT CERTIFIED *",
            "pytest-serve: acme started 1 time(s) for 1 distinct configuration(s)",
        ]
    )
    report = read_report(report_dir)
    assert report["implementation"] == {"name": "acme", "version": "9.9", "adapter": "vendor_adapter.MyAdapter"}
    by_id = {c["id"]: c for c in report["clauses"]}
    assert by_id["RET-2"]["verdict"] == "pass"
    assert by_id["RET-3"]["verdict"] == "deviation"
    assert by_id["RET-3"]["deviation_reason"] == "acme always answers application/json"
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Conformance report: acme 9.9\n")
    assert "| RET-3 |" in markdown and "**deviation** |  | declared: acme always answers application/json |" in markdown


def test_module_impl_runs_tests(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """`--serve-impl=reference_impl.serve` drives that module through the generic module adapter."""
    pytester.makepyfile(
        DEPLOY_CHECK
        + """
    import reference_impl.serve

    def test_module(serve, serve_instance):
        assert serve is reference_impl.serve
        assert serve_instance.name == "reference_impl.serve"
        assert type(serve_instance).__name__ == "ModuleAdapter"
    """
    )
    result = run_subprocess("--serve-impl=reference_impl.serve")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["pytest-serve: reference_impl.serve started 1 time(s) *"])


def test_adapter_and_deployed_app_pickle_as_notes(serve_instance, serve_app, serve) -> None:
    """What travels to replicas may catch the adapter or a DeployedApp (a pydantic model
    defined in a test keeps the test's locals): they pickle as a note, not as their
    clients, threads and sockets."""
    import pickle

    @serve.deployment
    def hello() -> str:
        return "hello"

    app = serve_app(hello.bind(), route_prefix="/pickled")
    assert app.http.get("/pickled").text == "hello"  # a live client now hangs off the app
    for obj in (serve_instance, app):
        note = pickle.loads(pickle.dumps(obj))
        assert isinstance(note, str) and "usable in the test process only" in note, note


HANDLES_ONLY_ADAPTER = (
    VENDOR_ADAPTER
    + """
    from pytest_serve.adapters import NoHTTPError

    class HandlesOnly(MyAdapter):
        '''An implementation that serves handles only, as Ray's local testing mode does.'''

        name = "handles-only"
        no_http = "handles-only serves no HTTP"

        @property
        def base_url(self):
            raise NoHTTPError(self.no_http)
"""
)


def test_adapter_without_http_fails_http_tests_with_its_reason(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """An adapter with `no_http` (as the ray-local one): handle tests run, and a test that
    reaches for HTTP fails with the adapter's reason, in the report too."""
    pytester.makepyfile(vendor_adapter=HANDLES_ONLY_ADAPTER)
    pytester.makepyfile(
        """
    import pytest

    @pytest.fixture
    def hello(serve, serve_app):
        @serve.deployment
        def hello():
            return "hello"

        return serve_app(hello.bind(), route_prefix="/hello")

    @pytest.mark.clause("HDL-6")
    def test_handle(hello):
        assert hello.handle.remote().result(timeout_s=10) == "hello"
        assert "no HTTP" in repr(hello)

    @pytest.mark.clause("RET-1")
    def test_http(hello):
        hello.http.get("/hello")

    @pytest.mark.clause("RET-2")
    def test_url(hello):
        hello.url
    """
    )
    report_dir = pytester.path / "report"
    result = run_subprocess("--serve-impl=vendor_adapter:HandlesOnly", f"--serve-report={report_dir}")
    result.assert_outcomes(passed=1, failed=2)
    message = "NoHTTPError: no HTTP here, so this test cannot run: handles-only serves no HTTP"
    message += " (app 'default' has no URL)"
    by_id = {c["id"]: c for c in read_report(report_dir)["clauses"]}
    assert by_id["HDL-6"]["verdict"] == "pass"
    for clause in ("RET-1", "RET-2"):
        assert by_id[clause]["verdict"] == "fail"
        assert by_id[clause]["tests"][0]["message"].endswith(message), by_id[clause]["tests"][0]["message"]
