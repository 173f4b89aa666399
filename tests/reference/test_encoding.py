"""encoding.py through real HTTP: what a plain `__call__` returns → status, type, body (§1).

One deployment returns the value named by the `v` query parameter, so every row of
the observed table is one request.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pydantic
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from reference_impl import serve

TEXT = "text/plain; charset=utf-8"
RAW = "text/plain"
JSON = "application/json"
ERROR = (500, None, b"Internal Server Error")


class Model(pydantic.BaseModel):
    x: int
    y: str


@dataclasses.dataclass
class Data:
    x: int
    y: str


class NotJson:
    pass


class WithAttributes:
    def __init__(self) -> None:
        self.a = 1
        self._private = 2


class Color(enum.Enum):
    RED = "red"


def _generator() -> Iterator[int]:
    yield 1


# name → (value factory, status, content-type or None, exact body), rows of observed §1.
TABLE: dict[str, tuple[Callable[[], Any], int, str | None, bytes]] = {
    "str": (lambda: "hello", 200, TEXT, b"hello"),
    "empty-str": (lambda: "", 200, TEXT, b""),
    "cjk-str": (lambda: "你好", 200, TEXT, "你好".encode()),
    "bytes": (lambda: b"\x00\xffbytes", 200, RAW, b"\x00\xffbytes"),
    "none": (lambda: None, 200, RAW, b""),
    "int": (lambda: 42, 200, JSON, b"42"),
    "bigint": (lambda: 2**70, 200, JSON, b"1180591620717411303424"),
    "float": (lambda: 1.5, 200, JSON, b"1.5"),
    "true": (lambda: True, 200, JSON, b"true"),
    "list": (lambda: [1, "a", None], 200, JSON, b'[1,"a",null]'),
    "tuple": (lambda: (1, 2), 200, JSON, b"[1,2]"),
    "set": (lambda: {1}, 200, JSON, b"[1]"),
    "dict": (lambda: {"k": 1, "u": "你"}, 200, JSON, b'{"k":1,"u":"\\u4f60"}'),
    "int-key": (lambda: {1: "a"}, 200, JSON, b'{"1":"a"}'),
    "bytes-value": (lambda: {"b": b"xy"}, 200, JSON, b'{"b":"xy"}'),
    "pydantic": (lambda: Model(x=1, y="z"), 200, JSON, b'{"x":1,"y":"z"}'),
    "dataclass": (lambda: Data(x=1, y="z"), 200, JSON, b'{"x":1,"y":"z"}'),
    "nan": (lambda: float("nan"), 200, JSON, b"NaN"),
    "inf": (lambda: float("inf"), 200, JSON, b"Infinity"),
    "nan-in-dict": (lambda: {"v": float("nan")}, 200, JSON, b'{"v":NaN}'),
    "neg-inf-in-list": (lambda: [1.0, float("-inf")], 200, JSON, b"[1.0,-Infinity]"),
    "empty-object": (lambda: NotJson(), 200, JSON, b"{}"),
    "object-with-attributes": (lambda: WithAttributes(), 200, JSON, b'{"a":1,"_private":2}'),
    "lambda": (lambda: lambda: 1, 200, JSON, b"{}"),
    "datetime": (lambda: datetime.datetime(2024, 1, 2, 3, 4, 5), 200, JSON, b'"2024-01-02T03:04:05"'),
    "decimal": (lambda: decimal.Decimal("1.10"), 200, JSON, b"1.1"),
    "uuid": (lambda: uuid.UUID(int=1), 200, JSON, b'"00000000-0000-0000-0000-000000000001"'),
    "enum": (lambda: Color.RED, 200, JSON, b'"red"'),
    "numpy-array": (lambda: np.array([1, 2]), 200, JSON, b"[1,2]"),
    "numpy-int": (lambda: np.int64(7), 200, JSON, b"7"),
    "response": (
        lambda: Response(b"raw", media_type="application/octet-stream"),
        200,
        "application/octet-stream",
        b"raw",
    ),
    "response-no-media-type": (lambda: Response(b"nomedia"), 200, None, b"nomedia"),
    "json-response-202": (lambda: JSONResponse({"j": 1}, status_code=202), 202, JSON, b'{"j":1}'),
    "plain-response-299": (lambda: PlainTextResponse("p", status_code=299), 299, TEXT, b"p"),
    # Ray answers these four with a 500 and no content-type.
    "object": (object, 500, None, b"Internal Server Error"),
    "complex": (lambda: complex(1, 2), 500, None, b"Internal Server Error"),
    "bytearray": (lambda: bytearray(b"ba"), 500, None, b"Internal Server Error"),
    "returned-generator": (_generator, *ERROR),
}
RAISING = ["object", "complex", "bytearray", "returned-generator"]


@serve.deployment
class Returner:
    def __call__(self, request: Request) -> Any:
        return TABLE[request.query_params["v"]][0]()


@pytest.fixture
def returner(http: httpx.Client) -> httpx.Client:
    """Function scope, `httpx.Client`: Returner deployed at /rt."""
    serve.run(Returner.bind(), name="rt", route_prefix="/rt")
    return http


@pytest.mark.parametrize("name", list(TABLE))
def test_return_value_encoding_matches_ray(returner: httpx.Client, name: str) -> None:
    """Status, content-type (exact, or absent) and body bytes equal Ray's for each value."""
    _, status, content_type, body = TABLE[name]
    response = returner.get("/rt", params={"v": name})
    assert response.status_code == status
    assert response.headers.get("content-type") == content_type
    assert response.content == body


@pytest.mark.parametrize("name", RAISING)
def test_unencodable_return_value_gives_plain_500(returner: httpx.Client, name: str) -> None:
    """A value that cannot be encoded gives 500 'Internal Server Error', nothing more."""
    response = returner.get("/rt", params={"v": name})
    assert (response.status_code, response.content) == (500, b"Internal Server Error")
    assert response.headers["content-length"] == "21"
    assert returner.get("/rt", params={"v": "str"}).text == "hello"
