"""HDL — deployment handles beyond the guide (clauses HDL-1 … HDL-7): streaming
calls, responses as arguments, call options, the handle's attributes and timeouts.

Deployments are defined inside the tests (they pickle by value on Ray); what runs
inside replicas is seen through `serve_probe`.
"""

import asyncio
import time
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from starlette.responses import StreamingResponse

from conformance.streams import ITEMS, assert_incremental
from pytest_serve import stream_chunks

# Bound for anything that happens inside a replica after the driver acted.
REACT_S = 10.0


def _numbers(serve):
    @serve.deployment
    class Numbers:
        def count(self, n):
            yield from range(n)

        async def acount(self, n):
            for i in range(n):
                await asyncio.sleep(0)
                yield i * 10

        def plain(self):
            return "not a generator"

    return Numbers


@pytest.mark.clause("HDL-1")
def test_hdl_1_streaming_calls_yield_items_in_order(serve, serve_app) -> None:
    """`handle.options(stream=True)` on generator methods: from the driver, plain `for`
    over a `DeploymentResponseGenerator` gives a sync generator's items in order; inside
    another deployment, `async for` over the same kind of call gives an async generator's."""
    Numbers = _numbers(serve)

    @serve.deployment
    class Consumer:
        def __init__(self, numbers):
            self.numbers = numbers

        async def __call__(self, n):
            gen = self.numbers.options(stream=True).acount.remote(n)
            return type(gen).__name__, [item async for item in gen]

    app = serve_app(Consumer.bind(Numbers.bind()), route_prefix=None, name="hdl1")
    assert app.handle.remote(4).result() == ("DeploymentResponseGenerator", [0, 10, 20, 30])
    numbers = serve.get_deployment_handle("Numbers", app_name="hdl1")
    gen = numbers.options(stream=True).count.remote(5)
    assert type(gen).__name__ == "DeploymentResponseGenerator"
    assert list(gen) == [0, 1, 2, 3, 4]
    assert list(numbers.options(stream=True, method_name="count").remote(0)) == []


@pytest.mark.clause("HDL-2")
def test_hdl_2_streaming_response_over_a_handle_stream(serve, serve_app, serve_probe, serve_observe) -> None:
    """A FastAPI route returns `StreamingResponse` over `async for` of a streaming handle
    call to a downstream generator (`yield str(i); time.sleep(0.1)`, 10 items): each item
    reaches the HTTP client within 0.4 s of the downstream generator's pace, items 0 and 9
    at least 60 % of the generator's own 0→9 time apart."""
    fastapi_app = FastAPI()

    @serve.deployment
    class Producer:
        def __init__(self, probe):
            self.probe = probe

        def numbers(self, max, tag):
            for i in range(max):
                self.probe.record("yield", tag=tag, i=i)
                yield str(i)
                time.sleep(0.1)

    @serve.deployment
    @serve.ingress(fastapi_app)
    class Relay:
        def __init__(self, producer):
            self.producer = producer

        @fastapi_app.get("/numbers")
        def numbers(self, max: int, tag: str) -> StreamingResponse:
            async def relay():
                async for item in self.producer.options(stream=True).numbers.remote(max, tag):
                    yield item

            return StreamingResponse(relay(), media_type="text/plain")

    app = serve_app(Relay.bind(Producer.bind(serve_probe)), route_prefix="/hdl2")
    warm = stream_chunks(f"{app.url}/numbers?{urlencode({'max': 2, 'tag': 'warm'})}")
    assert warm.status_code == 200 and warm.body == b"01"
    result = stream_chunks(f"{app.url}/numbers?{urlencode({'max': ITEMS, 'tag': 'run'})}")
    assert_incremental(result, serve_probe.events("yield", tag="run"), serve_observe)


@pytest.mark.clause("HDL-3")
def test_hdl_3_cancelling_a_stream_cancels_the_generator(serve, serve_app, serve_probe) -> None:
    """`.cancel()` on a `DeploymentResponseGenerator` after its first item: the async
    generator on the replica gets `asyncio.CancelledError` at its next `await`, and the
    driver's next read raises `RequestCancelledError`."""

    @serve.deployment
    class Endless:
        def __init__(self, probe):
            self.probe = probe

        async def ticks(self):
            try:
                for i in range(1000):
                    self.probe.record("tick", i=i)
                    yield i
                    await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                self.probe.record("cancelled")
                raise

    app = serve_app(Endless.bind(serve_probe), route_prefix=None, name="hdl3")
    gen = app.handle.options(stream=True).ticks.remote()
    assert next(gen) == 0
    gen.cancel()
    serve_probe.wait_for("cancelled", timeout=REACT_S)
    with pytest.raises(serve.exceptions.RequestCancelledError):
        for _ in range(1000):
            next(gen)
    ticks = len(serve_probe.events("tick"))
    assert ticks < 1000, "the generator ran to its end though it was cancelled"


@pytest.mark.clause("HDL-4")
def test_hdl_4_responses_as_arguments(serve, serve_app) -> None:
    """A `DeploymentResponse` passed as a top-level argument (positional or keyword) reaches
    the downstream method as its value; one nested in a list is refused with Ray's
    `RayServeException` ("... in a nested object ... no longer supported ...")."""

    @serve.deployment
    class Adder:
        def add(self, a, b=0):
            return a + b

        def describe(self, values):
            return repr(values)

    @serve.deployment
    class Pipeline:
        def __init__(self, adder):
            self.adder = adder

        async def __call__(self, start):
            first = self.adder.add.remote(start, 1)
            second = self.adder.add.remote(first, b=self.adder.add.remote(10, 5))
            return await second

        async def nested(self):
            try:
                await self.adder.describe.remote([self.adder.add.remote(1, 1)])
            except Exception as err:
                return type(err).__name__, str(err)
            return "accepted", ""

    app = serve_app(Pipeline.bind(Adder.bind()), route_prefix=None, name="hdl4")
    assert app.handle.remote(1).result() == 17
    kind, message = app.handle.nested.remote().result()
    assert kind == "RayServeException", (kind, message)
    assert "nested object" in message and "no longer supported" in message, message


@pytest.mark.clause("HDL-5")
def test_hdl_5_stream_option_must_match_the_method(serve, serve_app) -> None:
    """A generator method called without `stream=True` fails with TypeError ("returned a
    generator. You must use `handle.options(stream=True)`"); a plain method called with
    `stream=True` fails with TypeError ("did not return a generator"); an unknown handle
    option is a TypeError at `options()`. Options combine and keep earlier values:
    `options(stream=True).options(method_name="count")` still streams."""
    Numbers = _numbers(serve)
    app = serve_app(Numbers.bind(), route_prefix=None, name="hdl5")
    with pytest.raises(TypeError, match=r"returned a generator\. You must use `handle\.options\(stream=True\)`"):
        app.handle.count.remote(3).result()
    with pytest.raises(TypeError, match="did not return a generator"):
        list(app.handle.options(stream=True).plain.remote())
    with pytest.raises(TypeError):
        app.handle.options(no_such_option=True)
    streamed = app.handle.options(stream=True).options(method_name="count").remote(3)
    assert list(streamed) == [0, 1, 2]


@pytest.mark.clause("HDL-6")
def test_hdl_6_handle_attributes(serve, serve_app) -> None:
    """`deployment_id`, `deployment_name`, `app_name`, `handle_id` and `is_initialized` of a
    handle not used yet, then of one used; subscripting the three classes; `cancelled()`."""

    @serve.deployment
    class Named:
        def __call__(self):
            return "named"

        async def slow(self):
            await asyncio.sleep(REACT_S)

    @serve.deployment
    class Front:
        def __init__(self, named):
            self.named = named

        def __call__(self):
            return "front"

    app = serve_app(Front.bind(Named.bind()), route_prefix=None, name="hdl6")
    app_name = app.handle.app_name
    handle = serve.get_deployment_handle("Named", app_name=app_name)
    assert handle.is_initialized is False, "a handle nobody used yet is not initialized"
    deployment_id = handle.deployment_id
    assert (deployment_id.name, deployment_id.app_name) == ("Named", app_name), repr(deployment_id)
    assert (handle.deployment_name, handle.app_name) == ("Named", app_name)
    assert isinstance(handle.handle_id, str) and handle.handle_id, repr(handle.handle_id)
    derived = handle.options(method_name="slow")
    assert derived.handle_id == handle.handle_id
    assert handle.is_initialized is True, "`.options()` initializes the handle"
    assert handle.remote().result(timeout_s=30) == "named"

    response = derived.remote()
    assert response.cancelled() is False
    response.cancel()
    assert response.cancelled() is True
    generator = handle.options(stream=True).remote()
    generator.cancel()
    for cls in (type(handle), type(response), type(generator)):
        assert cls[int] is not None, f"{cls.__name__}[int] failed"


@pytest.mark.clause("HDL-7")
def test_hdl_7_result_timeout_raises_get_timeout_error(serve, serve_app) -> None:
    """A call that takes 3 s, read with `result(timeout_s=0.5)`: `GetTimeoutError`, a
    `TimeoutError`; read again without a tight timeout, its value."""

    @serve.deployment
    class Slow:
        def __call__(self, seconds):
            time.sleep(seconds)
            return "done"

    app = serve_app(Slow.bind(), route_prefix=None, name="hdl7")
    assert app.handle.remote(0).result(timeout_s=30) == "done"  # the handle knows its replica
    response = app.handle.remote(3)
    with pytest.raises(TimeoutError) as info:
        response.result(timeout_s=0.5)
    names = [c.__name__ for c in type(info.value).__mro__]
    assert "GetTimeoutError" in names, f"{type(info.value).__qualname__} (bases {names})"
    assert response.result(timeout_s=30) == "done"
