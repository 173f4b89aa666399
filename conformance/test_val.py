"""VAL — values and errors across a handle call (clauses VAL-1 … VAL-3).

On Ray 2.60 a handle call's arguments and result are pickled across a process
boundary and an exception raised in the replica comes back wrapped as
`ray.exceptions.RayTaskError(<its type>)`. These tests hold an implementation to
that, so that a test that passes on it passes on Ray. Exception classes are recognised
by their names and bases, not imported, so any implementation can be checked.
"""

import re
import threading

import pytest


def _ray_task_error_of(error: BaseException, cause_type: type) -> None:
    """`error` is Ray's wrapper of a `cause_type` error, as callers see it."""
    names = [c.__name__ for c in type(error).__mro__]
    assert "RayTaskError" in names, f"{type(error).__qualname__} is not a RayTaskError (its bases: {names})"
    assert isinstance(error, cause_type), f"{type(error).__qualname__} is not a {cause_type.__name__}"
    assert type(error).__name__ == f"RayTaskError({cause_type.__name__})", type(error).__name__


def _keeper(serve):
    @serve.deployment
    class Keeper:
        def __init__(self):
            self.kept = {"items": [1]}

        def append(self, items, *, more=None):
            items.append("replica")
            if more is not None:
                more.append("replica")
            return items

        def kept_items(self):
            return self.kept

        def echo(self, value):
            return value

        def make_lock(self):
            return threading.Lock()

    return Keeper


@pytest.mark.clause("VAL-1")
def test_val_1_arguments_and_results_are_copies(serve, serve_app) -> None:
    """From the driver: the replica appends to a list argument (positional and keyword),
    the caller's lists stay as they were; the caller appends to the dict a method returned,
    and the replica's dict, read again, is unchanged. Then the same between two deployments."""
    Keeper = _keeper(serve)

    @serve.deployment
    class Caller:
        def __init__(self, keeper):
            self.keeper = keeper

        async def __call__(self):
            mine, other = [0], [0]
            got = await self.keeper.append.remote(mine, more=other)
            kept = await self.keeper.kept_items.remote()
            kept["items"].append("caller")
            return mine, other, got, await self.keeper.kept_items.remote()

    app = serve_app(Caller.bind(Keeper.bind()), route_prefix=None, name="val1")
    keeper = serve.get_deployment_handle("Keeper", app_name=app.handle.app_name)
    mine, other = [1, 2], [3]
    got = keeper.append.remote(mine, more=other).result(timeout_s=30)
    assert got == [1, 2, "replica"]
    assert (mine, other) == ([1, 2], [3]), "the replica's mutation of the arguments reached the caller"
    kept = keeper.kept_items.remote().result(timeout_s=30)
    kept["items"].append("caller")
    assert keeper.kept_items.remote().result(timeout_s=30) == {"items": [1]}, (
        "the caller's mutation of a result reached the replica's object"
    )
    assert app.handle.remote().result(timeout_s=30) == ([0], [0], [0, "replica"], {"items": [1]})


@pytest.mark.clause("VAL-2")
def test_val_2_unserializable_values_fail_the_call(serve, serve_app) -> None:
    """`.remote(threading.Lock())` returns a response; its `result()` raises a TypeError
    that names the lock; the next call of the replica is served. A method returning a lock
    fails its call with a TypeError too."""
    app = serve_app(_keeper(serve).bind(), route_prefix=None, name="val2")
    response = app.handle.echo.remote(threading.Lock())  # no error yet: as on Ray
    with pytest.raises(TypeError) as info:
        response.result(timeout_s=30)
    assert "lock" in str(info.value), str(info.value)
    assert app.handle.echo.remote("after").result(timeout_s=30) == "after"
    with pytest.raises(TypeError) as info:
        app.handle.make_lock.remote().result(timeout_s=30)
    assert "lock" in str(info.value), str(info.value)


def _raisers(serve):
    @serve.deployment
    class Raiser:
        def boom(self):
            raise ValueError("boom")

        def stream(self):
            yield 1
            yield 2
            raise ValueError("stream boom")

    @serve.deployment
    class Relay:
        def __init__(self, raiser):
            self.raiser = raiser

        async def __call__(self):
            return await self.raiser.boom.remote()

    return Raiser, Relay


@pytest.mark.clause("VAL-3")
def test_val_3_replica_errors_arrive_as_ray_task_errors(serve, serve_app) -> None:
    """`raise ValueError("boom")` in a replica: the caller gets `RayTaskError(ValueError)`,
    `cause` the original, `str()` headed `ray::` and ending `ValueError: boom`; through a
    second deployment the same type and cause; a stream fails after its two items."""
    Raiser, Relay = _raisers(serve)
    app = serve_app(Relay.bind(Raiser.bind()), route_prefix=None, name="val3")
    raiser = serve.get_deployment_handle("Raiser", app_name=app.handle.app_name)
    with pytest.raises(ValueError) as info:
        raiser.boom.remote().result(timeout_s=30)
    error = info.value
    _ray_task_error_of(error, ValueError)
    assert type(error.cause) is ValueError and error.cause.args == ("boom",), repr(error.cause)
    text = str(error)
    assert "ray::" in text.splitlines()[0], text.splitlines()[0]
    assert text.splitlines()[-1] == "ValueError: boom", text.splitlines()[-1]
    assert re.search("^boom$", text) is None, "pytest.raises(ValueError, match='^boom$') would match"

    with pytest.raises(ValueError) as info:
        app.handle.remote().result(timeout_s=30)
    _ray_task_error_of(info.value, ValueError)
    assert type(info.value.cause) is ValueError, f"wrapped twice: cause {info.value.cause!r}"

    items = []
    with pytest.raises(ValueError) as info:
        for item in raiser.options(stream=True).stream.remote():
            items.append(item)
    assert items == [1, 2]
    _ray_task_error_of(info.value, ValueError)
