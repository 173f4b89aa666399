"""DeploymentResponseGenerator: the edges of streaming calls on the reference."""

from __future__ import annotations

import asyncio

import pytest
from direct_serve import StartServe

from reference_impl import serve
from reference_impl.exceptions import RayServeException, RequestCancelledError


@serve.deployment
class Gen:
    def count(self, n: int):
        yield from range(n)

    def fails_midway(self):
        yield 1
        raise ValueError("broken after one item")


def test_errors_arrive_after_the_items_before_them(start_serve: StartServe) -> None:
    start_serve()
    handle = serve.run(Gen.bind(), route_prefix=None)
    gen = handle.options(stream=True).fails_midway.remote()
    assert next(gen) == 1
    with pytest.raises(ValueError, match="broken after one item"):
        next(gen)


def test_a_call_that_never_reaches_a_replica_still_ends(start_serve: StartServe) -> None:
    """A missing method fails the stream at once instead of leaving the reader waiting."""
    start_serve()
    handle = serve.run(Gen.bind(), route_prefix=None)
    with pytest.raises(RayServeException, match="no_such_method"):
        list(handle.options(stream=True).no_such_method.remote())


def test_generator_refuses_await_result_and_sync_use_in_a_loop(start_serve: StartServe) -> None:
    start_serve()
    handle = serve.run(Gen.bind(), route_prefix=None)
    gen = handle.options(stream=True).count.remote(2)
    with pytest.raises(TypeError, match="cannot be awaited directly"):
        gen.__await__()
    with pytest.raises(TypeError, match=r"doesn't support `\.result\(\)`"):
        gen.result()

    async def in_a_loop() -> None:
        next(gen)

    with pytest.raises(RuntimeError, match="Sync methods should not be called"):
        asyncio.run(in_a_loop())
    assert list(gen) == [0, 1]


def test_cancel_before_the_first_item(start_serve: StartServe) -> None:
    start_serve()
    handle = serve.run(Gen.bind(), route_prefix=None)
    gen = handle.options(stream=True).count.remote(10**9)
    gen.cancel()
    with pytest.raises(RequestCancelledError):
        for _ in range(10**6):
            next(gen)
