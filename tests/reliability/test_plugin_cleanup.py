"""The plugin after an interrupted session (OPS-1): Ctrl-C in the middle of a request, or
a fixture that fails after deploying, leaves no process, port or instance behind, and
the next session starts cleanly.

Ctrl-C is a real SIGINT to a pytest process; the failing-fixture and KeyboardInterrupt
sessions run in this process (pytester), so what they leave would be visible here.
Ray is checked the same way when it is installed (its processes are children of the
pytest process).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
from resources import Usage, eventually, listening_ports

from reference_impl import api
from reference_impl.ray_alias import real_ray_version

START_S = 120.0  # a Ray start takes 6-12 s; the reference, milliseconds
EXIT_S = 30.0

BLOCKED_IN_A_REQUEST = """
    import asyncio, json, os
    from pathlib import Path
    from urllib.parse import urlsplit

    import httpx
    import psutil

    MARKER = Path({marker!r})

    def test_blocked(serve, serve_app, serve_instance):
        @serve.deployment
        class Slow:
            async def __call__(self):
                MARKER.with_suffix(".started").write_text("started")
                await asyncio.sleep(120)

        app = serve_app(Slow.bind(), route_prefix="/slow", name="slow")
        me = psutil.Process()
        MARKER.write_text(json.dumps({{
            "pid": os.getpid(),
            "port": urlsplit(serve_instance.base_url).port,
            "descendants": [p.pid for p in me.children(recursive=True)],
        }}))
        httpx.get(app.url, timeout=120)  # Ctrl-C arrives while this waits
"""

NEXT_SESSION = """
    def test_next(serve, serve_app):
        @serve.deployment
        def hello():
            return "hello"

        assert serve_app(hello.bind(), route_prefix="/hello").http.get("/hello").text == "hello"
"""


def _impls() -> list[object]:
    # Not find_spec("ray"): in this session `ray` may be the reference's stand-in.
    if real_ray_version() is None:
        ray_param = pytest.param("ray", marks=pytest.mark.skip(reason="Ray is not installed"))
    else:
        ray_param = pytest.param("ray", marks=pytest.mark.slow)
    return ["reference", ray_param]


# NOTE: a process started in the background by a non-interactive shell (as CI runners
# and `nohup … &` do) inherits SIGINT ignored, and Python then installs no
# KeyboardInterrupt handler; the session under test gets Python's usual one back.
_WITH_CTRL_C = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "import pytest; sys.exit(pytest.main(sys.argv[1:]))"
)


def _pytest(directory: Path, impl: str, *args: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        _WITH_CTRL_C,
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        f"--serve-impl={impl}",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "--rootdir",
        str(directory),
        *args,
    ]


def _write_test(directory: Path, name: str, source: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


@pytest.mark.timeout(300)
@pytest.mark.parametrize("impl", _impls())
def test_ctrl_c_during_a_request_leaves_nothing(tmp_path: Path, impl: str) -> None:
    """A pytest session deploys an app and waits on a request to it; SIGINT arrives while
    the handler runs. The session ends within 30 s with exit code 2 (interrupted); its
    port refuses connections; every process it had started is gone. A next session then
    deploys and passes."""
    marker = tmp_path / "marker.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_SERVE_IMPL"}
    test_file = _write_test(tmp_path, "test_blocked.py", BLOCKED_IN_A_REQUEST.format(marker=str(marker)))
    session = subprocess.Popen(
        _pytest(tmp_path, impl, str(test_file)),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        started, _ = eventually(marker.with_suffix(".started").exists, bool, START_S)
        assert started and session.poll() is None, "the session never got its request in flight"
        facts = json.loads(marker.read_text(encoding="utf-8"))
        session.send_signal(signal.SIGINT)
        output, _ = session.communicate(timeout=EXIT_S)
    except subprocess.TimeoutExpired:
        session.kill()
        output, _ = session.communicate()
        pytest.fail(f"the session did not end within {EXIT_S} s of Ctrl-C:\n{output[-5000:]}")
    finally:
        if session.poll() is None:
            session.kill()
            session.communicate()
    assert session.returncode == 2, f"exit code {session.returncode}:\n{output[-3000:]}"
    assert "KeyboardInterrupt" in output
    assert _refused(facts["port"]), f"port {facts['port']} still accepts connections"
    gone, alive = eventually(
        lambda: [pid for pid in facts["descendants"] if psutil.pid_exists(pid)], lambda p: not p, EXIT_S
    )
    assert gone, f"processes the session started are still running: {alive}"

    _write_test(tmp_path, "test_blocked.py", NEXT_SESSION)
    after = subprocess.run(
        _pytest(tmp_path, impl, str(test_file)),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_S + EXIT_S,
    )
    assert after.returncode == 0, after.stdout[-3000:]


FAILING_FIXTURE = """
    import pytest

    @pytest.fixture
    def deployed_then_broken(serve, serve_app):
        @serve.deployment
        def hello():
            return "hello"

        serve_app(hello.bind(), route_prefix="/hello")
        raise RuntimeError("the fixture failed after deploying")

    def test_broken(deployed_then_broken):
        pass

    def test_still_served(serve, serve_app):
        @serve.deployment
        def hello():
            return "again"

        assert serve_app(hello.bind(), route_prefix="/hello").http.get("/hello").text == "again"
"""

INTERRUPTING = """
    def test_interrupt(serve, serve_app):
        @serve.deployment
        def hello():
            return "hello"

        serve_app(hello.bind(), route_prefix="/hello")
        raise KeyboardInterrupt

    def test_never_runs(serve_instance):
        pass
"""


@pytest.fixture(scope="module")
def _server_modules_imported() -> None:
    """Module scope: one start and shutdown before any pytester session of this module.

    NOTE: pytester unloads, after an in-process session, every module first imported
    during it (its sys.modules snapshot is taken when the `pytester` fixture is made).
    uvicorn imports its protocol modules at the first start; unloaded and imported again,
    `httptools`' Python error classes would no longer match those its compiled parser
    raises, and malformed requests would kill the connection instead of getting 400.
    It also creates uvloop's process-wide pipe before any baseline is taken.
    """
    from reference_impl import serve

    serve.start(http_options={"port": 0})
    serve.shutdown()


@pytest.fixture
def inner_session(_server_modules_imported: None, pytester: pytest.Pytester) -> pytest.Pytester:
    """Function scope · `Pytester` · for sessions run in this process, after the server's
    modules are imported; what each session leaves is checked in this process."""
    return pytester


ARGS = ("-p", "no:cacheprovider", "-p", "no:randomly", "-o", "asyncio_default_fixture_loop_scope=function")


def _assert_nothing_left(before: Usage) -> None:
    assert api.running_instance() is None, "the session left its instance running"
    assert not listening_ports(), f"the session left ports listening: {listening_ports()}"
    ok, usage = eventually(Usage.now, lambda u: u == before, 2.0)
    assert ok, f"the session left: {usage.diff(before)}"


@pytest.mark.parametrize(
    ("source", "outcomes", "exit_code"),
    [
        (FAILING_FIXTURE, {"errors": 1, "passed": 1}, pytest.ExitCode.TESTS_FAILED),
        (INTERRUPTING, {}, pytest.ExitCode.INTERRUPTED),
    ],
    ids=["failing-fixture", "keyboard-interrupt"],
)
def test_interrupted_session_in_process_leaves_nothing(
    inner_session: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    outcomes: dict[str, int],
    exit_code: pytest.ExitCode,
) -> None:
    """A session whose fixture fails after deploying (the next test still gets a working
    instance), or whose test raises KeyboardInterrupt: when it returns, this process runs
    no instance, listens on no port and holds the threads, fds and sockets it held
    before. A next session deploys and passes."""
    monkeypatch.delenv("PYTEST_SERVE_IMPL", raising=False)
    before = Usage.now()
    inner_session.makepyfile(test_inner=textwrap.dedent(source))
    result = inner_session.runpytest_inprocess(*ARGS, no_reraise_ctrlc=True)
    assert result.ret == exit_code, "\n".join(result.outlines[-30:])
    if outcomes:
        result.assert_outcomes(**outcomes)
    _assert_nothing_left(before)

    inner_session.makepyfile(test_inner=textwrap.dedent(NEXT_SESSION))
    result = inner_session.runpytest_inprocess(*ARGS)
    result.assert_outcomes(passed=1)
    _assert_nothing_left(before)
