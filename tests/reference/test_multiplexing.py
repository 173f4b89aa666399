"""multiplexing.py and routing by model ID: what the MUX clauses do not see from outside."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import httpx
import pytest
from direct_serve import HTTP_TIMEOUT_S, StartServe

from reference_impl import serve
from reference_impl.multiplex import model_id_of


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"serve_multiplexed_model_id", b"m1")], "m1"),
        ([(b"SERVE-MULTIPLEXED-MODEL-ID", b"m2")], "m2"),
        ([(b"x-serve_multiplexed_model_id", b"no")], ""),
        ([], ""),
    ],
)
def test_model_id_header_spellings(headers: list[tuple[bytes, bytes]], expected: str) -> None:
    assert model_id_of(headers) == expected


def test_evicted_model_is_collected(start_serve: StartServe) -> None:
    """The replica keeps no reference to an evicted model (checked with a weakref)."""
    refs: dict[str, weakref.ref[Any]] = {}

    class Model:
        pass

    @serve.deployment
    class Models:
        @serve.multiplexed(max_num_models_per_replica=1)
        async def load(self, model_id: str) -> Model:
            model = Model()
            refs[model_id] = weakref.ref(model)
            return model

        async def __call__(self) -> str:
            await self.load(serve.get_multiplexed_model_id())
            return "ok"

    start_serve()
    handle = serve.run(Models.bind(), route_prefix=None)
    for model_id in ("a", "b"):
        assert handle.options(multiplexed_model_id=model_id).remote().result(timeout_s=HTTP_TIMEOUT_S) == "ok"
    gc.collect()
    assert refs["a"]() is None and refs["b"]() is not None


def test_requests_go_to_the_replica_with_their_model(start_serve: StartServe) -> None:
    """With two replicas, requests for a model loaded on the second replica go there, though
    both are idle and "least busy" alone would pick the first."""

    @serve.deployment(num_replicas=2)
    class Models:
        @serve.multiplexed(max_num_models_per_replica=4)
        async def load(self, model_id: str) -> str:
            return model_id

        async def __call__(self) -> str:
            model_id = serve.get_multiplexed_model_id()
            await self.load(model_id)
            if model_id == "slow":
                await asyncio.sleep(0.5)
            return serve.get_replica_context().replica_tag

    start_serve()
    handle = serve.run(Models.bind(), route_prefix=None)
    slow = handle.options(multiplexed_model_id="slow").remote()  # occupies the first replica
    tag_m = handle.options(multiplexed_model_id="m").remote().result(timeout_s=HTTP_TIMEOUT_S)
    assert slow.result(timeout_s=HTTP_TIMEOUT_S) != tag_m, "the second request did not go elsewhere"
    tags = {handle.options(multiplexed_model_id="m").remote().result(timeout_s=HTTP_TIMEOUT_S) for _ in range(5)}
    assert tags == {tag_m}


def test_concurrent_requests_load_a_model_once(start_serve: StartServe) -> None:
    """Ten concurrent requests for one model: one load, one model object."""
    loads: list[str] = []

    @serve.deployment(max_ongoing_requests=10)
    class Models:
        @serve.multiplexed
        async def load(self, model_id: str) -> object:
            loads.append(model_id)
            await asyncio.sleep(0.05)
            return object()

        async def __call__(self, request: Any) -> int:
            return id(await self.load(serve.get_multiplexed_model_id()))

    instance = start_serve()
    serve.run(Models.bind())

    async def ask() -> list[int]:
        async with httpx.AsyncClient(base_url=instance.url, timeout=HTTP_TIMEOUT_S) as client:
            answers = await asyncio.gather(
                *(client.get("/", headers={"serve_multiplexed_model_id": "x"}) for _ in range(10))
            )
        return [a.json() for a in answers]

    assert len(set(asyncio.run(ask()))) == 1
    assert loads == ["x"]
