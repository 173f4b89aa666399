"""Faults that break the RET clauses (return values) of the reference implementation."""

from __future__ import annotations

from faulty import fault


def _wrap_to_response(mp, convert):
    """Make the replica encode return values with `convert(value, original_to_response)`."""
    from reference_impl.runtime import encoding, replica

    original = encoding.to_response
    mp.setattr(replica, "to_response", lambda value: convert(value, original))


@fault("ret-str-as-json", "RET-1")
def _(mp):
    """A returned str is sent as a JSON string (`"hello"`, application/json)."""
    from starlette.responses import JSONResponse

    _wrap_to_response(mp, lambda v, to: JSONResponse(v) if isinstance(v, str) else to(v))


@fault("ret-json-as-text", "RET-1")
def _(mp):
    """JSON-serializable values are sent as their `str()` in text/plain."""
    from starlette.responses import PlainTextResponse, Response

    def convert(value, to):
        if isinstance(value, (Response, str, bytes)) or value is None:
            return to(value)
        return PlainTextResponse(str(value))

    _wrap_to_response(mp, convert)


@fault("ret-query-params-as-pairs", "RET-2")
def _(mp):
    """`request.query_params` is encoded as its list of (key, value) pairs."""
    from starlette.datastructures import QueryParams

    def convert(value, to):
        return to(value.multi_items() if isinstance(value, QueryParams) else value)

    _wrap_to_response(mp, convert)


@fault("ret-response-reencoded", "RET-3")
def _(mp):
    """A returned Response is re-encoded: its body is kept, status, headers and type lost."""
    from starlette.responses import Response

    def convert(value, to):
        return to(bytes(value.body)) if isinstance(value, Response) else to(value)

    _wrap_to_response(mp, convert)
