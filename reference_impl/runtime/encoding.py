"""Turning a handler's return value into an HTTP response, the way Ray Serve 2.60 does.

Measured mapping (docs/reference-impl.md): `str` → text/plain; charset=utf-8,
`bytes`/`None` → text/plain without charset, Starlette responses pass through,
anything else → compact JSON via FastAPI's `jsonable_encoder` (NaN stays a bare
token, non-ASCII is escaped). Objects the encoder cannot handle raise, which the
replica turns into a 500.

FastAPI is imported for the first value that is not plain JSON, and numpy's encoders
are added only once numpy is imported: no numpy value can exist before that.
"""

from __future__ import annotations

import inspect
import json
import sys
from typing import Any

from starlette.responses import Response

__all__ = ["serve_encoders", "to_response"]

_NUMPY_ENCODERS: dict[type, Any] = {}


def serve_encoders() -> dict[type, Any]:
    """Ray's encoders beyond `jsonable_encoder`'s own: numpy arrays and scalars."""
    if not _NUMPY_ENCODERS and (np := sys.modules.get("numpy")) is not None:
        _NUMPY_ENCODERS.update({np.ndarray: lambda a: a.tolist(), np.generic: lambda g: g.item()})
    return _NUMPY_ENCODERS


# `json.dumps(..., separators=...)` builds an encoder per call; this one is immutable.
_COMPACT = json.JSONEncoder(separators=(",", ":"))
_SCALARS = (str, int, float, bool, type(None))
_PLAIN_LIMIT = 1000  # values checked before giving up on the fast path


def _is_plain_json(value: Any) -> bool:
    """Whether `jsonable_encoder` would return `value` unchanged: dicts with `str` keys
    (none starting with "_sa", which it drops), lists, and scalars of exactly the JSON
    types (subclasses such as enums or numpy scalars have encoders of their own)."""
    stack = [value]
    budget = _PLAIN_LIMIT
    while stack:
        budget -= 1
        if budget < 0:
            return False
        item = stack.pop()
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind is dict:
            for key in item:
                if type(key) is not str or key.startswith("_sa"):
                    return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        else:
            return False
    return True


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
        if inspect.iscoroutine(value):
            value.close()  # else Python warns "coroutine ... was never awaited" later
        raise TypeError(
            f"A handler returned a {type(value).__name__} object; wrap generators in a "
            "StreamingResponse and await coroutines before returning."
        )
    if not _is_plain_json(value):
        from fastapi.encoders import jsonable_encoder

        value = jsonable_encoder(value, custom_encoder=serve_encoders())
    body = _COMPACT.encode(value).encode("utf-8")
    return _RawResponse(body, b"application/json")
