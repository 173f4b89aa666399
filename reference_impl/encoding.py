"""Turning a handler's return value into an HTTP response, the way Ray Serve 2.60 does.

Measured mapping (docs/reference-impl.md): `str` → text/plain; charset=utf-8,
`bytes`/`None` → text/plain without charset, Starlette responses pass through,
anything else → compact JSON via FastAPI's `jsonable_encoder` (NaN stays a bare
token, non-ASCII is escaped). Objects the encoder cannot handle raise, which the
replica turns into a 500.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from fastapi.encoders import jsonable_encoder
from starlette.responses import Response

__all__ = ["to_response", "SERVE_ENCODERS"]


def _numpy_encoders() -> dict[type, Any]:
    try:
        import numpy as np
    except ImportError:
        return {}
    return {np.ndarray: lambda a: a.tolist(), np.generic: lambda g: g.item()}


SERVE_ENCODERS: dict[type, Any] = _numpy_encoders()


class _RawResponse(Response):
    """A response whose content-type is sent exactly as given (no charset added)."""

    def __init__(self, body: bytes, content_type: bytes | None) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        headers = [(b"content-length", str(len(body)).encode("latin-1"))]
        if content_type is not None:
            headers.append((b"content-type", content_type))
        self.raw_headers = headers


def to_response(value: Any) -> Response:
    """The response for `value` returned from a plain (non-FastAPI) handler."""
    if isinstance(value, Response):
        return value
    if value is None:
        return _RawResponse(b"", b"text/plain")
    if isinstance(value, bytes):
        return _RawResponse(value, b"text/plain")
    if isinstance(value, str):
        return _RawResponse(value.encode("utf-8"), b"text/plain; charset=utf-8")
    if inspect.isgenerator(value) or inspect.isasyncgen(value) or inspect.iscoroutine(value):
        raise TypeError(
            f"A handler returned a {type(value).__name__} object; wrap generators in a "
            "StreamingResponse and await coroutines before returning."
        )
    body = json.dumps(
        jsonable_encoder(value, custom_encoder=SERVE_ENCODERS), separators=(",", ":")
    ).encode("utf-8")
    return _RawResponse(body, b"application/json")
