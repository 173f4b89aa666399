"""Shared by the benchmark's server scripts (run by path, so this folder is on sys.path):
wait until the server answers `GET /` with 200."""

from __future__ import annotations

import http.client
import time


def wait_200(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.request("GET", "/")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"/ did not answer 200 within {timeout} s")
        time.sleep(0.002)
