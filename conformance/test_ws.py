"""WS: WebSocket routes of a FastAPI ingress."""

# No `from __future__ import annotations`: FastAPI must see `ws: WebSocket` as a class,
# and WebSocket is imported inside the tests (string annotations would not resolve).
import statistics
import time

import pytest
from websockets.exceptions import InvalidHandshake

RECV_TIMEOUT_S = 10.0


@pytest.mark.clause("WS-1")
def test_ws_1_echo_server(serve, serve_app, serve_observe):
    """The guide's `EchoServer` (`@app.websocket("/")` at prefix `/`): the guide's two
    messages and a few more, each sent as text, come back as the same text, in order."""
    from fastapi import FastAPI, WebSocket, WebSocketDisconnect

    fastapi_app = FastAPI()

    @serve.deployment
    @serve.ingress(fastapi_app)
    class EchoServer:
        @fastapi_app.websocket("/")
        async def echo(self, ws: WebSocket):
            await ws.accept()
            try:
                while True:
                    text = await ws.receive_text()
                    await ws.send_text(text)
            except WebSocketDisconnect:
                print("Client disconnected.")

    app = serve_app(EchoServer.bind())
    round_trips = []
    with app.ws("/") as websocket:
        for message in ("Eureka!", "I've found it!", "", "ünïcode ✓", "x" * 10_000):
            sent = time.monotonic()
            websocket.send(message)
            assert websocket.recv(timeout=RECV_TIMEOUT_S) == message
            round_trips.append(time.monotonic() - sent)
    serve_observe.record("echo round trip (median)", statistics.median(round_trips), "s", key=True)
    serve_observe.record("echo round trip (slowest)", max(round_trips), "s", expected=f"within {RECV_TIMEOUT_S:g} s")


@pytest.mark.clause("WS-2")
def test_ws_2_client_close_raises_disconnect(serve, serve_app, serve_probe, serve_observe):
    """The handler (at `/watch/events`) records each message it receives and, when
    `receive_text` raises `WebSocketDisconnect`, records that. After one echo the client
    closes; the disconnect record must appear only after the close, within 10 s."""
    from fastapi import FastAPI, WebSocket, WebSocketDisconnect

    fastapi_app = FastAPI()

    @serve.deployment
    @serve.ingress(fastapi_app)
    class Watcher:
        def __init__(self, probe):
            self.probe = probe

        @fastapi_app.websocket("/events")
        async def watch(self, ws: WebSocket):
            await ws.accept()
            try:
                while True:
                    text = await ws.receive_text()
                    self.probe.record("ws-message", text=text)
                    await ws.send_text(text)
            except WebSocketDisconnect as err:
                self.probe.record("ws-disconnect", code=err.code)

    app = serve_app(Watcher.bind(serve_probe), route_prefix="/watch")
    with app.ws("/watch/events") as websocket:
        websocket.send("before close")
        assert websocket.recv(timeout=RECV_TIMEOUT_S) == "before close"
        serve_probe.wait_for("ws-message", text="before close", timeout=RECV_TIMEOUT_S)
        assert not serve_probe.events("ws-disconnect")
        closing = serve_probe.now()
    # Leaving the block closed the connection (close frame, code 1000).
    disconnect = serve_probe.wait_for("ws-disconnect", timeout=RECV_TIMEOUT_S)
    serve_observe.record(
        "WebSocketDisconnect after the client closed",
        disconnect.t - closing,
        "s",
        expected=f"after the close (≥ 0 s), within {RECV_TIMEOUT_S:g} s",
    )
    assert disconnect.t >= closing


@pytest.mark.clause("WS-3")
def test_ws_3_websocket_routes_stack_on_prefix(serve, serve_app):
    """An app at `/ws` with `@app.websocket("/echo")`: `ws://…/ws/echo` echoes; a
    handshake to `ws://…/echo` (nothing deployed at `/`) is rejected."""
    from fastapi import FastAPI, WebSocket

    fastapi_app = FastAPI()

    @serve.deployment
    @serve.ingress(fastapi_app)
    class Prefixed:
        @fastapi_app.websocket("/echo")
        async def echo(self, ws: WebSocket):
            await ws.accept()
            text = await ws.receive_text()
            await ws.send_text(f"echo:{text}")
            await ws.close()

    app = serve_app(Prefixed.bind(), route_prefix="/ws")
    with app.ws("/ws/echo") as websocket:
        websocket.send("hi")
        assert websocket.recv(timeout=RECV_TIMEOUT_S) == "echo:hi"
    with pytest.raises(InvalidHandshake), app.ws("/echo"):
        pass
