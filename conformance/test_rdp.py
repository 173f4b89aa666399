"""RDP: redeploying a running application (beyond the guide)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from pytest_serve import http_client

IN_FLIGHT_S = 1.5  # how long the handler of the request under way takes
REPLY_TIMEOUT_S = 30.0


@pytest.mark.clause("RDP-1")
def test_rdp_1_in_flight_request_finishes_on_the_old_version(serve, serve_app, serve_instance, serve_probe):
    """While a request to version 1 is under way (the handler has started and takes
    1.5 s), `serve.run` deploys version 2 under the same name: the request still gets
    200 from version 1, and every request sent after `serve.run` returned gets version 2."""

    @serve.deployment
    class Versioned:
        def __init__(self, version: int, probe: Any) -> None:
            self.version = version
            self.probe = probe

        async def __call__(self, request: Any) -> dict[str, int]:
            import asyncio

            if request.query_params.get("slow"):
                self.probe.record("started", version=self.version)
                await asyncio.sleep(IN_FLIGHT_S)
            return {"version": self.version}

    app = serve_app(Versioned.bind(1, serve_probe), route_prefix="/rdp1", name="rdp1")
    assert app.http.get("/rdp1").json() == {"version": 1}
    in_flight: dict[str, Any] = {}

    def send_slow() -> None:
        try:
            with http_client(timeout=REPLY_TIMEOUT_S) as client:
                in_flight["response"] = client.get(f"{app.base_url}/rdp1?slow=1")
        except httpx.HTTPError as err:
            in_flight["error"] = err

    sender = threading.Thread(target=send_slow, daemon=True)
    sender.start()
    serve_probe.wait_for("started", timeout=10, version=1)
    serve_instance.deploy(Versioned.bind(2, serve_probe), name="rdp1", route_prefix="/rdp1")
    after = [app.http.get("/rdp1").json() for _ in range(5)]
    sender.join(REPLY_TIMEOUT_S)
    assert not sender.is_alive(), "the in-flight request never finished"
    assert "error" not in in_flight, f"the in-flight request failed: {in_flight.get('error')!r}"
    response = in_flight["response"]
    assert (response.status_code, response.json()) == (200, {"version": 1}), response.text
    assert after == [{"version": 2}] * 5, after
