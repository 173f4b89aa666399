"""The ten code examples of Ray Serve's "Set Up FastAPI and HTTP" guide, run verbatim.

The guide's code blocks are kept once, exactly as the guide has them, in the
`conformance` package (`conformance/guide/exNN_*.py`; its README maps each file to its
section). Every test writes its example into its temporary directory with only the
import changed (`runner.materialize`: `from ray import serve` becomes the reference
implementation's `serve`, and the unused `import ray` goes), runs it in a subprocess
there, and checks what the guide shows. Examples that only define a deployment are
served by `driver.py`, and the test plays the client.

The examples hard-code port 8000, so these tests must never overlap. In one pytest
process they run one after another. Under pytest-xdist, run with `--dist loadgroup`
so that the `xdist_group` mark below keeps them on a single worker.
"""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from .driver import READY
from .runner import DRIVER, HOST, PORT, ExampleProcess, materialize, port_in_use, run_example

pytestmark = pytest.mark.xdist_group("port8000")

RUN_TIMEOUT_S = 60.0  # a whole example; each takes 1-2 s
LINE_TIMEOUT_S = 20.0  # one expected line, replica start-up included
# Chunk i is produced about i x 0.1 s after chunk 0, so ten streamed chunks arrive
# over ~0.9 s, and a buffered response delivers them all at once (spread ~0). The
# 0.3 s slack absorbs a client stalled by a busy 2-core machine.
MIN_SPREAD_S = 0.6

_GOT = re.compile(r"Got result (\d+(?:\.\d+)?)s after start: '(\d+)'")


@pytest.fixture(autouse=True)
def _port_free() -> None:
    """Fail at once, naming the port, rather than letting an example hang or misroute."""
    if port_in_use():
        pytest.fail(
            f"port {PORT} on {HOST} is already in use, and the guide examples hard-code it; "
            "stop whatever listens there and rerun.",
            pytrace=False,
        )


def _example(name: str, directory: Path) -> str:
    """The path of example `name`, written into `directory` ready to run here."""
    return str(materialize(name, directory))


def _finished(run: subprocess.CompletedProcess[str], name: str) -> str:
    """The output of a completed example run, after checking that it exited 0."""
    assert run.returncode == 0, f"{name} exited with {run.returncode}; output:\n{run.stdout}"
    return run.stdout


def _assert_streamed(lines: list[str], count: int) -> None:
    """`lines` hold chunks 0..count-1 in order, received incrementally, not buffered."""
    results = [m for line in lines if (m := _GOT.fullmatch(line))]
    assert [m[2] for m in results] == [str(i) for i in range(count)], "\n".join(lines)
    times = [float(m[1]) for m in results]
    assert times == sorted(times), f"times go backwards: {times}"
    spread = times[-1] - times[0]
    assert spread >= MIN_SPREAD_S, (
        f"chunks 0..{count - 1} arrived within {spread:.1f} s (expected ~{(count - 1) / 10:.1f} s,"
        f" at least {MIN_SPREAD_S} s): the response was buffered, not streamed: {times}"
    )


@pytest.mark.parametrize(
    "name",
    ["ex01_query_params", "ex04_fastapi_get", "ex05_fastapi_routes", "ex06_fastapi_existing_app"],
)
def test_example_asserts_pass(name: str, tmp_path: Path) -> None:
    """The example's own `assert resp.json() == ...` holds: it exits 0.

    ex01: query params as JSON (RET-2); ex04: FastAPI GET under /hello (FA-1, FA-2);
    ex05: POST /hello/Serve (FA-3); ex06: an existing FastAPI app at / (FA-4).
    """
    _finished(run_example(materialize(name, tmp_path), tmp_path, RUN_TIMEOUT_S), name)


def test_ex02_disconnect_cancels_handler(tmp_path: Path) -> None:
    """`startled` prints "Request got cancelled!" once its client hangs up (CAN-2).

    The driver serves the function deployment. A raw-socket client sends GET /,
    waits until the replica prints "Replica received request!", closes the
    connection, and expects the handler's `except asyncio.CancelledError` to print.
    """
    with ExampleProcess(DRIVER, _example("ex02_cancellation", tmp_path), "startled", cwd=tmp_path) as server:
        server.expect(READY, LINE_TIMEOUT_S)
        with socket.create_connection((HOST, PORT), timeout=LINE_TIMEOUT_S) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            server.expect("Replica received request!", LINE_TIMEOUT_S)
        server.expect("Request got cancelled!", LINE_TIMEOUT_S)
        assert server.finish(LINE_TIMEOUT_S) == 0, server.output()


def test_ex03_shield_protects_inner_call(tmp_path: Path) -> None:
    """A cancelled `SnoringSleeper` request still snores: shield() protects it (CAN-6).

    The driver serves `app`. A client with a 0.5 s read timeout gives up on the 1 s
    request. The replica must then print, in this order: "received request!",
    "request was cancelled!" (at ~0.5 s), and "ZZZ" (at ~1 s).
    """
    with ExampleProcess(DRIVER, _example("ex03_shield", tmp_path), "app", cwd=tmp_path) as server:
        server.expect(READY, LINE_TIMEOUT_S)
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(f"http://localhost:{PORT}/", timeout=(LINE_TIMEOUT_S, 0.5))
        server.expect("SnoringSleeper received request!", LINE_TIMEOUT_S)
        server.expect("SnoringSleeper's request was cancelled!", LINE_TIMEOUT_S)
        server.expect("ZZZ", LINE_TIMEOUT_S)
        assert server.finish(LINE_TIMEOUT_S) == 0, server.output()


def test_ex07_ex08_websocket_echo(tmp_path: Path) -> None:
    """The guide's websockets client gets its echoes from the EchoServer (WS-1, WS-2).

    The driver runs the EchoServer example (it calls serve.run itself) and keeps
    serving. The client example must exit 0 (its asserts on both echoes hold), and
    the server must then print "Client disconnected." from its WebSocketDisconnect.
    """
    with ExampleProcess(DRIVER, _example("ex07_websocket_server", tmp_path), cwd=tmp_path) as server:
        server.expect(READY, LINE_TIMEOUT_S)
        client = materialize("ex08_websocket_client", tmp_path)
        _finished(run_example(client, tmp_path, RUN_TIMEOUT_S), "ex08")
        server.expect("Client disconnected.", LINE_TIMEOUT_S)
        assert server.finish(LINE_TIMEOUT_S) == 0, server.output()


def test_ex09_stream_is_incremental(tmp_path: Path) -> None:
    """stream.py prints chunks '0'..'9' at times rising over >= 0.6 s, ~i x 0.1 s (STR-1)."""
    script = materialize("ex09_stream", tmp_path)
    output = _finished(run_example(script, tmp_path, RUN_TIMEOUT_S), "ex09")
    _assert_streamed(output.splitlines(), 10)


def test_ex10_stream_cancel_output(tmp_path: Path) -> None:
    """The forever-stream example, run as a plain script, prints what the guide shows.

    Chunks '0'..'10' stream incrementally, then "Client disconnecting", then the
    generator's "Cancelled! Exiting.", and the script exits 0.
    """
    script = materialize("ex10_stream_cancel", tmp_path)
    output = _finished(run_example(script, tmp_path, RUN_TIMEOUT_S), "ex10")
    lines = output.splitlines()
    _assert_streamed(lines, 11)
    assert "Client disconnecting" in lines, output
    assert "Cancelled! Exiting." in lines, f"the generator was not cancelled before exit:\n{output}"
    last_chunk = max(i for i, line in enumerate(lines) if _GOT.fullmatch(line))
    disconnect = lines.index("Client disconnecting")
    assert last_chunk < disconnect < lines.index("Cancelled! Exiting."), output


def test_ex10_disconnect_cancels_generator(tmp_path: Path) -> None:
    """The client's disconnect cancels the async generator, not the process exit (STR-3).

    The driver runs the example and keeps Serve up afterwards, so "Cancelled!
    Exiting." must follow from the closed connection while Serve still runs.
    """
    with ExampleProcess(DRIVER, _example("ex10_stream_cancel", tmp_path), cwd=tmp_path) as server:
        server.expect("Client disconnecting", RUN_TIMEOUT_S)
        server.expect("Cancelled! Exiting.", LINE_TIMEOUT_S)
        assert server.finish(LINE_TIMEOUT_S) == 0, server.output()
