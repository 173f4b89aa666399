"""The fixtures: serve_app (http, url, teardown, ws, ahttp), serve, serve_probe, serve_config."""

from __future__ import annotations

import pytest

from .helpers import Run, output_of

HELLO_APP = """
    def hello_app(serve):
        @serve.deployment
        class Hello:
            def __call__(self, request):
                return {"path": request.url.path}

        return Hello.bind()
"""

WS_TEST = """
    from fastapi import FastAPI, WebSocket

    def test_ws_echo(serve, serve_app):
        api = FastAPI()

        @serve.deployment
        @serve.ingress(api)
        class Echo:
            @api.websocket("/ws")
            async def echo(self, websocket: WebSocket):
                await websocket.accept()
                text = await websocket.receive_text()
                await websocket.send_text("echo:" + text)
                await websocket.close()

        app = serve_app(Echo.bind(), route_prefix="/chat")
        with app.ws("/chat/ws") as ws:
            ws.send("hi")
            assert ws.recv(timeout=10) == "echo:hi"
"""

AHTTP_TEST = """
    import pytest

    {marker}
    async def test_ahttp(serve, serve_app):
        @serve.deployment
        class Hello:
            def __call__(self, request):
                return "hello async"

        app = serve_app(Hello.bind(), route_prefix="/a")
        response = await app.ahttp.get("/a")
        assert response.text == "hello async"
"""


def test_serve_app_http_get_includes_prefix(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """`app.http` has the base URL, so a path with the route prefix reaches the app."""
    pytester.makepyfile(
        HELLO_APP
        + """
    def test_get(serve, serve_app):
        app = serve_app(hello_app(serve), route_prefix="/pre")
        response = app.http.get("/pre/sub")
        assert response.status_code == 200
        assert response.json() == {"path": "/pre/sub"}
    """
    )
    run_subprocess().assert_outcomes(passed=1)


def test_serve_app_url_is_base_url_plus_prefix(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """`.url` is base URL + prefix, and the bare base URL for prefix '/'."""
    pytester.makepyfile(
        HELLO_APP
        + """
    def test_url(serve, serve_app, serve_instance):
        root = serve_app(hello_app(serve))
        sub = serve_app(hello_app(serve), route_prefix="/sub")
        assert root.url == root.base_url == serve_instance.base_url
        assert sub.url == serve_instance.base_url + "/sub"
        assert (root.name, sub.name) == ("default", "app2")
        assert root.http.get("/").json() == {"path": "/"}
    """
    )
    run_subprocess().assert_outcomes(passed=1)


def test_serve_app_teardown_deletes_app(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """An app deployed by one test is gone (404) in the next test on the same instance."""
    pytester.makepyfile(
        HELLO_APP
        + """
    import httpx

    URLS = []

    def test_first(serve, serve_app):
        app = serve_app(hello_app(serve), route_prefix="/first")
        assert app.http.get("/first").status_code == 200
        URLS.append(app.url)

    def test_second(serve_instance):
        assert URLS == [serve_instance.base_url + "/first"]  # same instance, still running
        assert httpx.get(URLS[0], timeout=10).status_code == 404
    """
    )
    result = run_subprocess("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_first PASSED*", "*test_second PASSED*"])


def test_serve_app_ws_echoes_through_fastapi(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """`with app.ws(path) as ws` talks to a FastAPI websocket route under the app's prefix, warning-free."""
    pytester.makepyfile(WS_TEST)
    run_subprocess("-W", "error::DeprecationWarning").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("marker", "args", "ini"),
    [
        pytest.param("@pytest.mark.asyncio", (), None, id="strict"),
        pytest.param("", ("-p", "asyncio", "--asyncio-mode=auto"), None, id="auto-option"),
        pytest.param("", (), "[pytest]\nasyncio_mode = auto\n", id="auto-ini"),
    ],
)
def test_serve_app_ahttp_in_async_test(
    pytester: pytest.Pytester, run_subprocess: Run, marker: str, args: tuple[str, ...], ini: str | None
) -> None:
    """`app.ahttp` works in an async test under pytest-asyncio's strict and auto modes."""
    if ini:
        pytester.makeini(ini)
    pytester.makepyfile(AHTTP_TEST.format(marker=marker))
    run_subprocess(*args).assert_outcomes(passed=1)


def test_serve_app_ahttp_closed_at_teardown(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """After an async test, no unclosed socket or transport of `app.ahttp` is left to the GC."""
    pytester.makepyfile(
        AHTTP_TEST.format(marker="@pytest.mark.asyncio")
        + """
    def test_later():
        import gc

        gc.collect()
    """
    )
    result = run_subprocess("-W", "error::ResourceWarning")
    result.assert_outcomes(passed=2)
    assert "ResourceWarning" not in output_of(result)


def test_serve_returns_implementation_module(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """`serve` is the Serve API module of the implementation under test, and alone starts nothing."""
    pytester.makepyfile(
        """
        import reference_impl.serve
        from reference_impl import api

        def test_module_only(serve):
            assert serve is reference_impl.serve
            assert api.running_instance() is None

        def test_module_of_instance(serve, serve_instance):
            assert serve is serve_instance.serve is reference_impl.serve
        """
    )
    run_subprocess().assert_outcomes(passed=2)


def test_serve_probe_records_across_processes(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """Events recorded by a handler, a multiprocessing child and a script with a pickled probe all arrive."""
    pytester.makepyfile(
        """
        import multiprocessing
        import os
        import pickle
        import subprocess
        import sys

        SCRIPT = "import pickle, sys; pickle.loads(bytes.fromhex(sys.argv[1])).record('script', n=2)"

        def record_in_child(probe):
            probe.record("child", n=1)

        def test_probe(serve, serve_app, serve_probe):
            @serve.deployment
            class Recorder:
                def __init__(self, probe):
                    self.probe = probe

                def __call__(self, request):
                    self.probe.record("handled", path=request.url.path)
                    return "ok"

            app = serve_app(Recorder.bind(serve_probe), route_prefix="/rec")
            assert app.http.get("/rec/x").text == "ok"
            assert serve_probe.wait_for("handled", path="/rec/x", timeout=10).pid == os.getpid()

            child = multiprocessing.get_context("spawn").Process(target=record_in_child, args=(serve_probe,))
            child.start()
            child.join(timeout=60)
            assert child.exitcode == 0
            assert serve_probe.wait_for("child", n=1, timeout=5).pid == child.pid

            done = subprocess.run(
                [sys.executable, "-c", SCRIPT, pickle.dumps(serve_probe).hex()], timeout=60
            )
            assert done.returncode == 0
            script = serve_probe.wait_for("script", timeout=5)
            assert script.pid not in (os.getpid(), child.pid) and script.data == {"n": 2}

            serve_probe.assert_absent("never", during=0.1)
            assert serve_probe.names() == ["handled", "child", "script"]
            times = [e.t for e in serve_probe.events()]
            assert times == sorted(times) and times[-1] <= serve_probe.now()
        """
    )
    run_subprocess().assert_outcomes(passed=1)


def test_serve_probe_failures_list_events_seen(pytester: pytest.Pytester, run_inprocess: Run) -> None:
    """A `wait_for` timeout and an `assert_absent` hit both list the events recorded so far."""
    pytester.makepyfile(
        """
        def test_wait(serve_probe):
            serve_probe.record("started", tag="A")
            serve_probe.record("finished", tag="A")
            serve_probe.wait_for("cancelled", tag="A", timeout=0.2)

        def test_absent(serve_probe):
            serve_probe.record("received", tag="B")
            serve_probe.assert_absent("received", during=5)
        """
    )
    result = run_inprocess()
    result.assert_outcomes(failed=2)
    result.stdout.re_match_lines(
        [
            r".*waited 0\.20 s for 1 × 'cancelled' \(tag='A'\), saw 0; "
            r"events so far: \[started@[\d.]+ tag='A', finished@[\d.]+ tag='A'\]",
            r".*'received' was recorded but must not be: received@[\d.]+ tag='B'; "
            r"events so far: \[received@[\d.]+ tag='B'\]",
        ]
    )
    assert result.duration < 5, "assert_absent must fail at once, not after `during`"


CONFIG_APP = """
    from reference_impl import serve

    @serve.deployment
    class FromConfig:
        def __init__(self, greeting="hello"):
            self.greeting = greeting

        def __call__(self, request):
            return f"{self.greeting} at {request.url.path}"

    def build(args):
        return FromConfig.bind(args.get("greeting", "hello"))

    app = FromConfig.bind()
"""


def test_serve_config_from_yaml_file(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """A YAML config path deploys its apps at their prefixes, with the file's http_options."""
    pytester.makepyfile(cfg_app=CONFIG_APP)
    pytester.makefile(
        ".yaml",
        serve_config="""
        http_options:
          keep_alive_timeout_s: 1
        applications:
          - name: greeter
            route_prefix: /greet
            import_path: cfg_app:build
            args:
              greeting: hi
        """,
    )
    pytester.makepyfile(
        """
        from pathlib import Path

        from pytest_serve.http import idle_close_after

        def test_yaml(serve_config):
            path = Path(__file__).with_name("serve_config.yaml")
            (app,) = serve_config(path)
            assert (app.name, app.route_prefix) == ("greeter", "/greet")
            assert app.url == app.base_url + "/greet"
            assert app.http.get("/greet/x").text == "hi at /greet/x"
            closed = idle_close_after(app.base_url, max_wait=4)
            assert closed is not None and 0.5 <= closed <= 2.5, closed
        """
    )
    run_subprocess().assert_outcomes(passed=1)


def test_serve_config_from_dict(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """A config dict deploys every application it lists, bound apps and builders alike."""
    pytester.makepyfile(cfg_app=CONFIG_APP)
    pytester.makepyfile(
        """
        def test_dict(serve_config):
            apps = serve_config({
                "applications": [
                    {"name": "one", "route_prefix": "/one", "import_path": "cfg_app:app"},
                    {"name": "two", "route_prefix": "/two", "import_path": "cfg_app:build",
                     "args": {"greeting": "hey"}},
                ]
            })
            assert [a.name for a in apps] == ["one", "two"]
            assert apps[0].http.get("/one").text == "hello at /one"
            assert apps[1].http.get("/two").text == "hey at /two"
        """
    )
    run_subprocess().assert_outcomes(passed=1)
