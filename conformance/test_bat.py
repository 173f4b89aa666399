"""BAT — request batching with `@serve.batch` (clauses BAT-1 … BAT-6).

Calls go out at once from the driver (`handle.remote()` returns immediately), so they
reach the replica together; the batch function reports the batch sizes it saw.
"""

import asyncio

import pytest

RESULT_S = 30.0


def _results(responses):
    return [r.result(timeout_s=RESULT_S) for r in responses]


@pytest.mark.clause("BAT-1")
def test_bat_1_concurrent_calls_share_batches(serve, serve_app, serve_observe) -> None:
    """Twelve calls at once to a method with `max_batch_size=4`, `batch_wait_timeout_s=1`:
    each caller gets the result for its own input, no batch is larger than 4, and at least
    one batch holds more than one call."""

    @serve.deployment(max_ongoing_requests=32)
    class Doubler:
        @serve.batch(max_batch_size=4, batch_wait_timeout_s=1.0)
        async def double(self, values):
            return [(v * 2, len(values)) for v in values]

        async def __call__(self, value):
            return await self.double(value)

    app = serve_app(Doubler.bind(), route_prefix=None, name="bat1")
    answers = _results([app.handle.remote(i) for i in range(12)])
    assert [a[0] for a in answers] == [2 * i for i in range(12)], answers
    sizes = [a[1] for a in answers]
    serve_observe.record("largest batch", max(sizes), "calls", expected="2..4 (max_batch_size=4)", key=True)
    serve_observe.record("batch size seen by each call", ", ".join(map(str, sizes)))
    assert max(sizes) <= 4 and max(sizes) > 1, sizes


@pytest.mark.clause("BAT-2")
def test_bat_2_partial_batch_waits_for_the_timeout(serve, serve_app, serve_observe) -> None:
    """A lone call to a function with `max_batch_size=100`, `batch_wait_timeout_s=0.5` runs as a
    batch of one after the timeout: it takes at least about 0.5 s, and far less than forever."""

    @serve.batch(max_batch_size=100, batch_wait_timeout_s=0.5)
    async def sizes(values):
        return [len(values)] * len(values)

    @serve.deployment
    class Lone:
        async def __call__(self, value):
            loop = asyncio.get_running_loop()
            started = loop.time()
            size = await sizes(value)
            return size, loop.time() - started

    app = serve_app(Lone.bind(), route_prefix=None, name="bat2")
    size, waited = app.handle.remote(1).result(timeout_s=RESULT_S)
    serve_observe.record(
        "lone call waited", waited, "s", expected="batch_wait_timeout_s=0.5: 0.4 s or more, under 10 s", key=True
    )
    serve_observe.record("batch size", size, "calls", expected="1")
    assert size == 1
    assert 0.4 <= waited < 10, f"the lone call waited {waited:.2f} s"


@pytest.mark.clause("BAT-3")
def test_bat_3_errors_reach_every_caller(serve, serve_app) -> None:
    """A batch function that raises fails every call of the batch with its error; one that
    returns a list of the wrong length fails them with Ray's `RayServeException`
    ("doesn't preserve batch size")."""

    @serve.deployment(max_ongoing_requests=32)
    class Faulty:
        @serve.batch(max_batch_size=3, batch_wait_timeout_s=0.5)
        async def explode(self, values):
            raise ValueError(f"bad batch of {len(values)}")

        @serve.batch(max_batch_size=3, batch_wait_timeout_s=0.5)
        async def short(self, values):
            return values[:-1]

        async def __call__(self, which):
            try:
                await (self.explode(1) if which == "explode" else self.short(1))
            except Exception as err:
                return type(err).__name__, str(err)
            return "ok", ""

    app = serve_app(Faulty.bind(), route_prefix=None, name="bat3")
    exploded = _results([app.handle.remote("explode") for _ in range(3)])
    assert all(kind == "ValueError" and msg.startswith("bad batch of") for kind, msg in exploded), exploded
    short = _results([app.handle.remote("short") for _ in range(3)])
    assert all(kind == "RayServeException" and "doesn't preserve batch size" in msg for kind, msg in short), short


@pytest.mark.clause("BAT-4")
def test_bat_4_async_generator_streams_per_caller(serve, serve_app) -> None:
    """A batched async generator yields one list per step; each caller iterates its own items."""

    @serve.deployment(max_ongoing_requests=32)
    class Counter:
        @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.5)
        async def count(self, limits):
            for step in range(max(limits)):
                yield [f"{limit}:{min(step, limit - 1)}" for limit in limits]

        async def __call__(self, limit):
            return [item async for item in self.count(limit)]

    app = serve_app(Counter.bind(), route_prefix=None, name="bat4")
    answers = _results([app.handle.remote(3) for _ in range(4)])
    assert answers == [["3:0", "3:1", "3:2"]] * 4, answers


@pytest.mark.clause("BAT-5")
def test_bat_5_batch_parameters_change_at_runtime(serve, serve_app, serve_observe) -> None:
    """`set_max_batch_size(2)` on the decorated method (as from `reconfigure`) caps later
    batches at 2; `_get_max_batch_size()` reports the new value."""

    @serve.deployment(max_ongoing_requests=32, user_config={"max_batch_size": 2})
    class Tunable:
        def reconfigure(self, config):
            self.handle_batch.set_max_batch_size(config["max_batch_size"])
            self.handle_batch.set_batch_wait_timeout_s(0.5)

        @serve.batch(max_batch_size=10, batch_wait_timeout_s=0.5)
        async def handle_batch(self, values):
            return [len(values)] * len(values)

        async def __call__(self, value):
            return await self.handle_batch(value), self.handle_batch._get_max_batch_size()

    app = serve_app(Tunable.bind(), route_prefix=None, name="bat5")
    answers = _results([app.handle.remote(i) for i in range(8)])
    serve_observe.record("largest batch", max(a[0] for a in answers), "calls", expected="2 (set_max_batch_size(2))")
    assert max(a[0] for a in answers) == 2, answers
    assert {a[1] for a in answers} == {2}


@pytest.mark.clause("BAT-6")
def test_bat_6_bad_arguments_rejected(serve) -> None:
    """`@serve.batch` refuses a sync function (TypeError), `max_batch_size=0` (ValueError) and a
    negative `batch_wait_timeout_s` (ValueError), with Ray 2.60's messages."""

    def sync(values):
        return values

    async def fine(values):
        return values

    with pytest.raises(TypeError, match="must be 'async def'"):
        serve.batch(sync)
    with pytest.raises(ValueError, match="max_batch_size must be an integer >= 1, got 0"):
        serve.batch(max_batch_size=0)(fine)
    with pytest.raises(ValueError, match="batch_wait_timeout_s must be a float >= 0, got -1"):
        serve.batch(batch_wait_timeout_s=-1)(fine)
