"""MUX — model multiplexing (clauses MUX-1 … MUX-4).

The loaders record each load in `serve_probe`, models record their eager `__del__`
call, and a `weakref.finalize` on each model records when it is really collected,
so eviction is seen from inside the replica on both implementations.
"""

import uuid

import pytest

# Bound for anything that happens inside the replica after the request answered.
REACT_S = 10.0


@pytest.mark.clause("MUX-1")
def test_mux_1_model_id_from_header_and_handle(serve, serve_app) -> None:
    """`serve.get_multiplexed_model_id()` inside the handler returns the
    `serve_multiplexed_model_id` header's value (also spelled `Serve-Multiplexed-Model-Id`,
    as proxies rewrite it), the `multiplexed_model_id` handle option, and "" without either."""

    @serve.deployment
    class WhichModel:
        async def __call__(self, request=None):
            return serve.get_multiplexed_model_id()

    app = serve_app(WhichModel.bind(), route_prefix="/mux1")
    assert app.http.get("/mux1", headers={"serve_multiplexed_model_id": "m1"}).text == "m1"
    assert app.http.get("/mux1", headers={"Serve-Multiplexed-Model-Id": "m2"}).text == "m2"
    assert app.http.get("/mux1").text == ""
    assert app.handle.options(multiplexed_model_id="m3").remote().result() == "m3"
    assert app.handle.remote().result() == ""


def _models_app(serve, probe, limit):
    class Model:
        def __init__(self, model_id):
            self.model_id = model_id
            self.token = uuid.uuid4().hex

        def __del__(self):
            probe.record("del", model=self.model_id)

    @serve.deployment
    class Models:
        @serve.multiplexed(max_num_models_per_replica=limit)
        async def get_model(self, model_id: str):
            import weakref

            probe.record("load", model=model_id)
            model = Model(model_id)
            weakref.finalize(model, probe.record, "collected", model=model_id)
            return model

        async def __call__(self, request):
            model = await self.get_model(serve.get_multiplexed_model_id())
            return {"model": model.model_id, "token": model.token}

    return Models.bind()


def _ask(app, model_id):
    response = app.http.get("/", headers={"serve_multiplexed_model_id": model_id})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == model_id, body
    return body["token"]


@pytest.mark.clause("MUX-2")
def test_mux_2_model_loaded_once_per_replica(serve, serve_app, serve_probe, serve_observe) -> None:
    """Five requests for model "a" and two for "b": the loader runs once per model, and
    every request for a model gets the same model object (same token)."""
    app = serve_app(_models_app(serve, serve_probe, limit=3))
    tokens_a = {_ask(app, "a") for _ in range(5)}
    tokens_b = {_ask(app, "b") for _ in range(2)}
    assert len(tokens_a) == 1 and len(tokens_b) == 1, (tokens_a, tokens_b)
    assert _ask(app, "a") in tokens_a, "model a was loaded again though it fits in the cache"
    loads = [e.data["model"] for e in serve_probe.events("load")]
    serve_observe.record("model loads", ", ".join(loads) or "none", expected="a, b")
    assert loads == ["a", "b"], f"loads seen: {loads}"


@pytest.mark.clause("MUX-2")
def test_mux_2_concurrent_first_requests_load_once(serve, serve_app, serve_probe, serve_observe) -> None:
    """Four requests for a model not loaded yet, at once, to a loader that awaits while it
    loads: one load, and all four get the same model object."""

    @serve.deployment(max_ongoing_requests=8)
    class SlowModels:
        @serve.multiplexed(max_num_models_per_replica=3)
        async def get_model(self, model_id: str):
            import asyncio

            serve_probe.record("load", model=model_id)
            await asyncio.sleep(0.5)
            return uuid.uuid4().hex

        async def __call__(self):
            return await self.get_model(serve.get_multiplexed_model_id())

    app = serve_app(SlowModels.bind(), route_prefix=None, name="mux2c")
    calls = [app.handle.options(multiplexed_model_id="m").remote() for _ in range(4)]
    tokens = {call.result(timeout_s=30) for call in calls}
    loads = [e.data["model"] for e in serve_probe.events("load")]
    serve_observe.record("model loads for 4 concurrent first requests", len(loads), expected="1")
    assert loads == ["m"], f"loads seen: {loads}"
    assert len(tokens) == 1, f"the requests got {len(tokens)} different model objects"


@pytest.mark.clause("MUX-3")
def test_mux_3_least_recently_used_model_evicted(serve, serve_app, serve_probe, serve_observe) -> None:
    """With `max_num_models_per_replica=2`: load a, b; use a again; load c → b (the least
    recently used) is evicted: its `__del__` is called and the object is collected, while a
    stays loaded (same token, no second load). Asking for b again loads it anew."""
    app = serve_app(_models_app(serve, serve_probe, limit=2))
    token_a = _ask(app, "a")
    _ask(app, "b")
    assert _ask(app, "a") == token_a
    _ask(app, "c")
    serve_probe.wait_for("del", model="b", timeout=REACT_S)
    serve_probe.wait_for("collected", model="b", timeout=REACT_S)
    assert _ask(app, "a") == token_a, "model a was evicted though c should have replaced b"
    assert not serve_probe.events("del", model="a") and not serve_probe.events("del", model="c")
    _ask(app, "b")  # evicts c now: a was used after it
    serve_probe.wait_for("collected", model="c", timeout=REACT_S)
    loads = [e.data["model"] for e in serve_probe.events("load")]
    serve_observe.record("model loads", ", ".join(loads) or "none", expected="a, b, c, b")
    assert loads == ["a", "b", "c", "b"], f"loads seen: {loads}"


@pytest.mark.clause("MUX-4")
def test_mux_4_bad_loaders_rejected(serve) -> None:
    """`@serve.multiplexed` refuses what Ray 2.60 refuses, when decorating: a sync function
    (TypeError), a loader without a model ID parameter (TypeError), and
    `max_num_models_per_replica` of 0 (ValueError) or not an int (TypeError)."""

    def sync_loader(model_id):
        return model_id

    async def no_model_id():
        return None

    async def loader(model_id):
        return model_id

    with pytest.raises(TypeError, match="async functions or methods"):
        serve.multiplexed(sync_loader)
    with pytest.raises(TypeError, match="model_id"):
        serve.multiplexed(no_model_id)
    with pytest.raises(ValueError, match="max_num_models_per_replica must be positive"):
        serve.multiplexed(max_num_models_per_replica=0)(loader)
    with pytest.raises(TypeError, match="max_num_models_per_replica must be an integer"):
        serve.multiplexed(max_num_models_per_replica="3")(loader)
