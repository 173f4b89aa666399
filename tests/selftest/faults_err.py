"""Faults that break the recommended error clauses (ERR-1, ERR-2) of the reference."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

import pytest
from faulty import fault
from uvicorn.protocols.http import h11_impl, httptools_impl

from reference_impl import api, config, config_file
from reference_impl.runtime import head_limits as protocol
from reference_impl.runtime import replica


@fault("err-500-shows-traceback", "ERR-1")
def _(mp: pytest.MonkeyPatch) -> None:
    """A plain deployment's exception is answered with 500 and its traceback as the body."""
    original = replica.Replica._serve_callable

    async def serve_callable(self: replica.Replica, scope: Any, receive: Any, send: Any) -> None:
        try:
            await original(self, scope, receive, send)
        except Exception:
            body = traceback.format_exc().encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})

    mp.setattr(replica.Replica, "_serve_callable", serve_callable)


@fault("err-exception-breaks-replica", "ERR-1")
def _(mp: pytest.MonkeyPatch) -> None:
    """After its handler raised once, a replica answers every later request with 500."""
    original = replica.Replica._serve_callable

    async def serve_callable(self: replica.Replica, scope: Any, receive: Any, send: Any) -> None:
        if getattr(self, "_fault_broken", False):
            raise RuntimeError("replica broken by an earlier exception")
        try:
            await original(self, scope, receive, send)
        except Exception:
            self._fault_broken = True
            raise

    mp.setattr(replica.Replica, "_serve_callable", serve_callable)


@fault("err-malformed-request-hangs", "ERR-2")
def _(mp: pytest.MonkeyPatch) -> None:
    """A request the HTTP parser rejects gets neither a response nor a close."""
    for cls in (httptools_impl.HttpToolsProtocol, h11_impl.H11Protocol):
        mp.setattr(cls, "send_400_response", lambda self, msg: None)


@fault("err-big-header-crashes", "ERR-2")
def _(mp: pytest.MonkeyPatch) -> None:
    """The server crashes (500) on a request head over its size cap instead of answering 431."""

    def crash(self: protocol.HeadLimitedProtocol, limit: int) -> None:
        self._discarding = True
        self.transport.write(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        self.transport.close()

    mp.setattr(protocol.HeadLimitedProtocol, "_refuse_head", crash)


@fault("err-bad-config-accepted", "ERR-2")
def _(mp: pytest.MonkeyPatch) -> None:
    """An invalid `keep_alive_timeout_s` in http_options is silently dropped (default used)."""
    original = config.parse_http_options

    def parse(options: Any) -> config.HTTPOptions:
        try:
            return original(options)
        except config.ConfigError:
            if not isinstance(options, Mapping):
                raise
            return original({k: v for k, v in options.items() if k != "keep_alive_timeout_s"})

    mp.setattr(api, "parse_http_options", parse)
    load = config_file.load_config

    def load_config(source: Any) -> config_file.ServeConfig:
        if isinstance(source, Mapping) and isinstance(source.get("http_options"), Mapping):
            options = dict(source["http_options"])
            try:
                original(options)
            except config.ConfigError:
                options.pop("keep_alive_timeout_s", None)
            source = {**source, "http_options": options}
        return load(source)

    mp.setattr(config_file, "load_config", load_config)
