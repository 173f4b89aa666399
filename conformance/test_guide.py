"""GUIDE: the guide's ten code examples, run as written on the implementation under test.

The examples are kept once, byte for byte, in `conformance/guide/` (its README maps
each file to its section of the guide). A test reads its example and makes three
changes. It drops `from ray import serve` and `import ray`, leaving blank lines so the
line numbers still match the file. It points `http://localhost:8000` and
`ws://localhost:8000` at the instance under test. It then runs the code in a fresh
module. That module is registered in `sys.modules` under a unique name and has no
`__file__`, so Ray pickles its classes by value. In that module:

- `serve` is the implementation's Serve module, except for `serve.run(app, route_prefix=...)`:
  it deploys through `serve_app`, so the app is deleted after the test, and returns the handle;
- `print` prints as usual and also records each line in `serve_probe` as a "print"
  event with its time. The module's globals travel with its deployments, so lines that
  a replica prints (in another process, on Ray) reach the test as well.

The code runs in a background thread with a deadline: it is a script the test can
outlast. Its `serve.run` calls are carried out in the test's own thread, as the
adapters expect. The example's own `assert`s are part of each check. The examples that
have no client (startled, SnoringSleeper) get one from the test, and EchoServer's
client is the guide's next example.
"""

# No `from __future__ import annotations` here, and the examples are compiled with
# `dont_inherit=True`: FastAPI must see their annotations (`ws: WebSocket`) as classes.
import builtins
import contextlib
import importlib
import importlib.resources
import itertools
import linecache
import queue
import re
import select
import socket
import sys
import threading
import time
import traceback
import types
import uuid
from urllib.parse import urlsplit

import pytest
import requests

GUIDE = importlib.resources.files("conformance") / "guide"
# The lines that tie an example to Ray; the implementation under test supplies `serve`.
RAY_IMPORTS = ("from ray import serve", "import ray")
# Serve's default address, which the examples hard-code.
DEFAULT_HTTP = "http://localhost:8000"
DEFAULT_WS = "ws://localhost:8000"

# One example's code from its first line to its last, not counting its deployments
# (each has the adapter's own deadline). The examples' clients set no timeouts.
RUN_TIMEOUT_S = 30.0
# Bound for a request's first line of output from the replica, just after deployment.
START_S = 20.0
# Bound for the replica to react to a client leaving (Ray 2.60: ~10 ms).
REACT_S = 5.0
# How long the test first checks that nothing happens before its client leaves.
QUIET_S = 0.5
# The stream examples sleep 0.1 s between items, so items 0..n-1 are produced at least
# (n - 1) x 0.1 s apart. Streamed, they reach the client that far apart; buffered, all at
# once. A third of that span is left for a client stalled on a busy 2-core machine.
ITEM_GAP_S = 0.1
MIN_SPREAD_SHARE = 2 / 3
# At least half of the gaps between arrivals must be real gaps, not a burst.
MIN_GAP_S = 0.03

# What the stream examples print for each chunk they receive.
GOT = re.compile(r"Got result (\d+(?:\.\d+)?)s after start: '(\d+)'")


# -- running an example ------------------------------------------------------------------


def _source(name, base_url):
    """Example `name`'s code without its Ray imports, talking to `base_url`."""
    text = (GUIDE / f"{name}.py").read_text(encoding="utf-8")
    code = "\n".join("" if line in RAY_IMPORTS else line for line in text.split("\n"))
    ws_url = "ws" + base_url[len("http") :]
    if urlsplit(base_url).path:
        # Under a base URL with a path (a shared cluster's session prefix), the guide's bare
        # "http://localhost:8000" means that path's root, "/": a WebSocket is not redirected there.
        code = re.sub(f"({re.escape(DEFAULT_HTTP)}|{re.escape(DEFAULT_WS)})(?=[\"'])", r"\1/", code)
    return code.replace(DEFAULT_HTTP, base_url).replace(DEFAULT_WS, ws_url)


def _recording_print(probe):
    """A `print` for an example's module: prints as usual, and records the line in `probe`.

    A closure, so that on Ray it travels by value (the probe pickles as its file path)
    with the deployments that call it."""

    def print(*values, sep=" ", end="\n", file=None, flush=False):
        probe.record("print", text=(" " if sep is None else sep).join(map(str, values)))
        builtins.print(*values, sep=sep, end=end, file=file, flush=flush)

    return print


class _Serve:
    """The `serve` an example sees: the implementation's Serve module, but `run` deploys
    through the plugin. Pickles as the module itself, should a deployment refer to it."""

    def __init__(self, module, deploy):
        self._module = module
        self._deploy = deploy

    def __getattr__(self, name):
        return getattr(self._module, name)

    def __reduce__(self):
        return importlib.import_module, (self._module.__name__,)

    def run(self, target, blocking=False, name=None, route_prefix="/"):
        return self._deploy(target, name=name, route_prefix=route_prefix).handle


class _Example:
    """One example's code in its own module, run as a script (see the module docstring).

    `run()` runs it to its end and raises what it raised; `example["name"]` is one of
    its globals; `apps` lists what its `serve.run` calls deployed; `end()` closes the
    responses it left open, as the end of the script's process would."""

    def __init__(self, name, serve, serve_app, base_url, probe):
        self.name = name
        self.apps = []
        self._serve_app = serve_app
        self._calls = queue.Queue()  # (target, kwargs, reply queue) from the script's thread
        self._thread = None
        self.module = types.ModuleType(f"guide_{name}_{uuid.uuid4().hex[:12]}")
        self.module.serve = _Serve(serve, self._deploy_for_script)
        self.module.print = _recording_print(probe)
        self.filename = f"<guide/{name}.py>"
        source = _source(name, base_url)
        # NOTE: so that tracebacks through the example show its lines.
        linecache.cache[self.filename] = (len(source), None, source.splitlines(True), self.filename)
        self._code = compile(source, self.filename, "exec", dont_inherit=True)
        sys.modules[self.module.__name__] = self.module

    def __getitem__(self, name):
        return self.module.__dict__[name]

    def _deploy_for_script(self, target, **kwargs):
        reply = queue.Queue()
        self._calls.put((target, kwargs, reply))
        app, error = reply.get()  # the test's thread always replies, or ends the test
        if error is not None:
            raise error
        self.apps.append(app)
        return app

    def run(self, timeout=RUN_TIMEOUT_S):
        """Run the example's code to its end within `timeout` s plus the time its
        `serve.run` calls take (they run here); fail with the line it failed at if it
        raised."""
        outcome = []

        def script():
            try:
                exec(self._code, self.module.__dict__)
            except BaseException as err:  # handed to the test's thread below
                outcome.append(err)
            finally:
                self._calls.put(None)

        self._thread = threading.Thread(target=script, name=f"guide-{self.name}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                call = self._calls.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                pytest.fail(f"{self.name} did not finish within {timeout} s", pytrace=False)
            if call is None:
                break
            target, kwargs, reply = call
            deploying = time.monotonic()
            try:
                app = self._serve_app(target, **kwargs)
            except BaseException as err:  # e.g. pytest.fail: the script must not wait on
                reply.put((None, err))
                raise
            reply.put((app, None))
            deadline += time.monotonic() - deploying
        if outcome:
            self._fail(outcome[0])

    def _fail(self, err):
        if isinstance(err, pytest.fail.Exception):
            raise err
        lines = [
            f"{frame.filename.strip('<>')} line {frame.lineno}: {frame.line}"
            for frame in traceback.extract_tb(err.__traceback__)
            if frame.filename == self.filename
        ]
        where = lines[-1] if lines else self.name
        message = f"the guide's example failed at {where}\n  {type(err).__name__}: {err}"
        response = self.module.__dict__.get("resp")
        if isinstance(response, requests.Response):
            message += f"\n  resp: {response.status_code} {response.text[:500]!r}"
        raise AssertionError(message) from err

    def end(self):
        """Close the HTTP responses the script left open, as its process's exit would.

        Not while the script still runs (it failed its deadline): closing a response its
        thread is reading from would block here. Deleting the app ends that read."""
        if self._thread is not None and self._thread.is_alive():
            return
        for value in list(self.module.__dict__.values()):
            if isinstance(value, requests.Response):
                value.close()

    def close(self):
        self.end()
        sys.modules.pop(self.module.__name__, None)
        linecache.cache.pop(self.filename, None)


@pytest.fixture
def _guide(serve, serve_app, serve_instance, serve_probe):
    """function scope · `_guide(name) -> _Example` · loads the guide's example `name`
    (e.g. "ex01_query_params") for the implementation under test; cleans up after."""
    made = []

    def load(name):
        example = _Example(name, serve, serve_app, serve_instance.base_url, serve_probe)
        made.append(example)
        return example

    yield load
    for example in made:
        example.close()


# -- checks ---------------------------------------------------------------------------------


def _printed(probe, text, timeout):
    """The event of the first line `text` printed (in the test or in a replica)."""
    return probe.wait_for("print", text=text, timeout=timeout)


@contextlib.contextmanager
def _request_left_open(url):
    """Send `GET url` over a raw socket and keep the connection open until the block
    ends; then close it (the client leaves)."""
    parts = urlsplit(url)
    request = f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=START_S) as sock:
        sock.sendall(request.encode("ascii"))
        yield sock


def _printed_while_waiting(probe, sock, text, timeout):
    """The event of `text` printed while the request on `sock` is still unanswered;
    fails at once if the server answers (or closes) first."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe.events("print", text=text)
        if found:
            return found[0]
        if select.select([sock], [], [], 0.01)[0]:
            answer = sock.recv(65536)
            pytest.fail(
                f"the server answered {answer[:300]!r} before the replica printed {text!r}; "
                f"printed: {[e.data['text'] for e in probe.events('print')]}",
                pytrace=False,
            )
        if time.monotonic() >= deadline:
            return _printed(probe, text, 0)  # fails, listing what was printed


def _assert_streamed(probe, count, observe):
    """The example printed chunks '0'..'count-1' in order, as they arrived one by one:
    first to last at least 2/3 of the generator's own minimum span apart, and at least
    half of the gaps between them real gaps. Records the arrivals in `observe`."""
    got = [(e, m) for e in probe.events("print") if (m := GOT.fullmatch(e.data["text"]))]
    lines = "\n".join(e.data["text"] for e, _ in got)
    assert [m[2] for _, m in got] == [str(i) for i in range(count)], lines
    printed = [float(m[1]) for _, m in got]
    arrived = [e.t - got[0][0].t for e, _ in got]
    timeline = ", ".join(f"{i}: +{t:.2f} s" for i, t in enumerate(arrived))
    least = MIN_SPREAD_SHARE * (count - 1) * ITEM_GAP_S
    observe.record("the guide's client printed chunks at", arrived, "s", expected="one by one, 0.1 s apart")
    observe.record("first to last chunk printed", arrived[-1], "s", expected=f"≥ {least:.2f} s")
    assert printed == sorted(printed), f"the printed times go backwards:\n{lines}"
    assert arrived[-1] >= least, (
        f"chunks 0..{count - 1} arrived within {arrived[-1]:.2f} s, but the generator takes at "
        f"least {(count - 1) * ITEM_GAP_S:.1f} s to produce them: the body was buffered, not "
        f"streamed ({timeline})"
    )
    gaps = [b - a for a, b in itertools.pairwise(arrived)]
    real = sum(gap >= MIN_GAP_S for gap in gaps)
    assert real * 2 >= len(gaps), (
        f"only {real} of {len(gaps)} chunks came {MIN_GAP_S} s or more after the one before: "
        f"they arrived in bursts, not one by one ({timeline})"
    )


# -- the examples ---------------------------------------------------------------------------


@pytest.mark.clause("RET-2", "ING-2")
def test_ex01_counter_returns_query_params(_guide):
    """Runs the guide's `Counter` example: `serve.run(Counter.bind())`, then
    `requests.get(base + "?a=b&c=d")`. Its own `assert resp.json() == {"a": "b", "c": "d"}`
    must hold: `__call__` got a Starlette `Request`, and its `query_params` came back as JSON."""
    example = _guide("ex01_query_params")
    example.run()
    assert len(example.apps) == 1


@pytest.mark.clause("CAN-2", "ING-3", "ING-4")
def test_ex02_startled_is_cancelled_when_client_leaves(_guide, serve_app, serve_probe, serve_observe):
    """Deploys the guide's `startled` function deployment (no request argument). A raw
    socket sends `GET /`. Once the replica has printed "Replica received request!" and
    nothing more for 0.5 s, the client closes the connection. The handler's `except
    asyncio.CancelledError` must then print "Request got cancelled!" within a few seconds,
    and not before the client left."""
    example = _guide("ex02_cancellation")
    example.run()
    app = serve_app(example["startled"].bind())
    with _request_left_open(app.url + "/") as client:
        _printed_while_waiting(serve_probe, client, "Replica received request!", START_S)
        serve_probe.assert_absent("print", text="Request got cancelled!", during=QUIET_S)
        leaving = serve_probe.now()
    cancelled = _printed(serve_probe, "Request got cancelled!", REACT_S)
    serve_observe.record(
        "CancelledError after disconnect",
        cancelled.t - leaving,
        "s",
        expected=f"after the client left, within {REACT_S:g} s",
        clause="CAN-2",
    )
    assert cancelled.t >= leaving


@pytest.mark.clause("CAN-6", "ING-3")
def test_ex03_shield_lets_snore_finish(_guide, serve_app, serve_probe, serve_observe):
    """Deploys the guide's `app = SnoringSleeper.bind()`. A raw socket sends `GET /` and
    closes the connection as soon as the replica prints "SnoringSleeper received
    request!" (well within `snore()`'s 1 s sleep). The replica must then print "…request
    was cancelled!" after the client left, and "ZZZ" after that: the shielded `snore()`
    still ran its full second."""
    example = _guide("ex03_shield")
    example.run()
    app = serve_app(example["app"])
    with _request_left_open(app.url + "/") as client:
        received = _printed_while_waiting(serve_probe, client, "SnoringSleeper received request!", START_S)
        assert not serve_probe.events("print", text="ZZZ"), (
            "the snore had finished before the client could leave; nothing was cancelled"
        )
        leaving = serve_probe.now()
    cancelled = _printed(serve_probe, "SnoringSleeper's request was cancelled!", REACT_S)
    zzz = _printed(serve_probe, "ZZZ", REACT_S + 1)
    serve_observe.record(
        "shielded coroutine completed",
        100 * (zzz.t - received.t),
        "% of its sleep",
        expected="100 % of its 1 s",
        clause="CAN-6",
        key=True,
    )
    serve_observe.record(
        "CancelledError after disconnect", cancelled.t - leaving, "s", expected=f"within {REACT_S:g} s", clause="CAN-6"
    )
    assert received.t < leaving <= cancelled.t < zzz.t, serve_probe.events("print")
    assert zzz.t - received.t >= 0.9, "snore() did not sleep its full second"


@pytest.mark.clause("FA-1", "FA-2")
def test_ex04_fastapi_get_under_prefix(_guide):
    """Runs the guide's first FastAPI example: `MyFastAPIDeployment` with `@app.get("/")`,
    deployed with `route_prefix="/hello"`. Its own `assert resp.json() == "Hello, world!"`
    for `GET /hello` must hold."""
    example = _guide("ex04_fastapi_get")
    example.run()
    assert [app.route_prefix for app in example.apps] == ["/hello"]


@pytest.mark.clause("FA-3")
def test_ex05_fastapi_post_with_path_param(_guide):
    """Runs the guide's two-route example (GET `/` and POST `/{subpath}`, both methods
    named `root`) at `/hello`. Its own `assert resp.json() == "Hello from Serve!"` for
    `POST /hello/Serve` must hold, and its first route must still answer: the guide adds
    the POST route beside it, so `GET /hello` gives "Hello, world!"."""
    example = _guide("ex05_fastapi_routes")
    example.run()
    [app] = example.apps
    assert app.route_prefix == "/hello"
    response = app.http.get("/hello")
    assert response.status_code == 200, response.text
    assert response.json() == "Hello, world!"


@pytest.mark.clause("FA-4")
def test_ex06_existing_fastapi_app_served_as_is(_guide):
    """Runs the guide's `FastAPIWrapper` example: a FastAPI app whose route `f` is a plain
    function, wrapped by a class with an empty body, at `/`. Its own
    `assert resp.json() == "Hello from the root!"` must hold."""
    example = _guide("ex06_fastapi_existing_app")
    example.run()
    assert [app.route_prefix for app in example.apps] == ["/"]


@pytest.mark.clause("WS-1", "WS-2")
def test_ex07_ex08_echo_server_and_client(_guide, serve_probe):
    """Runs the guide's `EchoServer` example (it calls `serve.run` itself), then the guide's
    `websockets` client. The client's own asserts must hold (both messages echoed), and
    once it has closed, the server's `except WebSocketDisconnect` must print "Client
    disconnected." once, within a few seconds."""
    server = _guide("ex07_websocket_server")
    server.run()
    assert len(server.apps) == 1
    client = _guide("ex08_websocket_client")
    started = serve_probe.now()
    client.run()
    disconnected = _printed(serve_probe, "Client disconnected.", REACT_S)
    assert disconnected.t >= started
    assert len(serve_probe.events("print", text="Client disconnected.")) == 1


@pytest.mark.clause("STR-1")
def test_ex09_stream_prints_chunks_as_they_come(_guide, serve_probe, serve_observe):
    """Runs the guide's first `stream.py` (a sync generator, `max=10`) with its `requests`
    client, which prints "Got result …s after start: 'i'" per chunk. It must print
    chunks '0'..'9' in order, with the printed times never going backwards. The first and
    last must be printed at least 0.6 s apart, against the generator's 0.9 s, and at
    least half of the gaps must be 0.03 s or more."""
    example = _guide("ex09_stream")
    example.run()
    _assert_streamed(serve_probe, 10, serve_observe)


@pytest.mark.clause("STR-3")
def test_ex10_leaving_client_cancels_generator(_guide, serve_probe, serve_observe):
    """Runs the guide's second `stream.py` (an async generator that never ends). Its
    client prints chunks '0'..'10' as they stream in, then "Client disconnecting", and
    leaves the loop. Leaving the loop drops the body iterator, which closes the
    connection; the test then also closes the response, as the script's exit would. The
    generator's `except asyncio.CancelledError` must print "Cancelled! Exiting." after
    "Client disconnecting", within a few seconds of the script's end."""
    example = _guide("ex10_stream_cancel")
    example.run()
    example.end()
    _assert_streamed(serve_probe, 11, serve_observe)
    disconnecting = _printed(serve_probe, "Client disconnecting", 0)
    cancelled = _printed(serve_probe, "Cancelled! Exiting.", REACT_S)
    serve_observe.record(
        "generator CancelledError after disconnect",
        cancelled.t - disconnecting.t,
        "s",
        expected=f"after the client left, within {REACT_S:g} s",
        key=True,
    )
    assert cancelled.t > disconnecting.t, serve_probe.events("print")
