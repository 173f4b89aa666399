"""A replica: one instance of a deployment, on its own thread and event loop.

Requests arrive as `ReplicaCall`s: HTTP/WebSocket ones carry an `Exchange` whose
messages cross between the proxy's loop and this one; handle calls carry
arguments and deliver a result. `ReplicaCall.cancel()` (any thread) cancels the
request's task and, with it, every `DeploymentHandle` call the request made, even
those wrapped in `asyncio.shield` (CAN-5, CAN-7).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import logging
import os
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response
from uvicorn.config import Config
from uvicorn.lifespan.on import LifespanOn

from ..context import ReplicaContext, ReplicaID, RequestContext, current_replica, current_request
from ..deployment import Deployment
from ..exceptions import (
    BackPressureError,
    DeploymentStartError,
    DeploymentUnavailableError,
    RayServeException,
    retry_after,
)
from ..finalizers import finalize
from ..ingress import build_asgi_app, current_user_object, ingress_spec
from ..ray_exceptions import RayTaskError, format_remote_traceback
from ..serialization import copy_value
from ..types import ASGIApp, Message, Receive, Scope, Send
from .channel import Channel
from .encoding import to_response
from .exchange import ClientDisconnected, Exchange, Finished
from .loops import LoopThread
from .streaming import stream_items

__all__ = ["Replica", "ReplicaCall", "RequestContext", "current_request"]

logger = logging.getLogger("reference_impl")


class ReplicaCall:
    """A request given to a replica. `future` gets a handle call's result."""

    __slots__ = ("_future", "_replica", "cancelled", "context", "task")

    def __init__(
        self,
        replica: Replica,
        context: RequestContext,
        *,
        result: bool = True,
    ) -> None:
        self._replica = replica
        self.context = context
        # NOTE: HTTP/WebSocket calls answer through their Exchange; skipping the
        # future (and its Condition) saves a few microseconds per request.
        self._future: concurrent.futures.Future[Any] | None = concurrent.futures.Future() if result else None
        self.task: asyncio.Task[Any] | None = None
        self.cancelled = False

    @property
    def future(self) -> concurrent.futures.Future[Any]:
        """The handle call's outcome; HTTP/WebSocket calls have none."""
        if self._future is None:
            raise RuntimeError("an HTTP/WebSocket call delivers no result")
        return self._future

    def cancel(self) -> None:
        """Cancel the request's task and its child handle calls; safe from any thread."""
        try:
            self._replica.loop.call_soon_threadsafe(self._cancel_here)
        except RuntimeError:  # the replica's loop is closed: nothing left to cancel
            pass

    def _cancel_here(self) -> None:
        self.cancelled = True
        if self.task is not None:
            self.task.cancel()
        self.context.cancel_children()


class _Receiver:
    """ASGI `receive` over the inbox; once a disconnect arrived it repeats it."""

    __slots__ = ("_inbox", "_last")

    def __init__(self, exchange: Exchange) -> None:
        self._inbox = exchange.inbox
        self._last: Message | None = None

    async def __call__(self) -> Message:
        if self._last is not None:
            return self._last
        message = await self._inbox.get()
        if message["type"] in ("http.disconnect", "websocket.disconnect"):
            self._last = message
        return message


class _Sender:
    """ASGI `send` into the outbox, for the proxy's loop to relay.

    The messages an HTTP handler sends in one step (start and body, or a streamed
    chunk) cost the proxy's loop one wake-up: they are queued without waking it, and
    one flush follows when the step ends (or the `Finished` marker wakes it, which
    follows at once in most responses). WebSocket messages wake it each. A handler that
    sends faster than the client takes waits once `OUTBOX_LIMIT` messages are queued,
    as it would on a socket: memory stays bounded and its loop gets to run.
    """

    __slots__ = ("_exchange", "_flush_due", "_loop", "started", "websocket")

    def __init__(self, exchange: Exchange, loop: asyncio.AbstractEventLoop, *, websocket: bool) -> None:
        self._exchange = exchange
        self._loop = loop
        self.websocket = websocket
        self.started = False  # a message was sent: too late for an error response
        self._flush_due = False

    async def __call__(self, message: Message) -> None:
        self.started = True
        exchange = self._exchange
        outbox = exchange.outbox
        if outbox.closed or (self.websocket and exchange.client_gone):
            # The request's cancellation is on its way (HTTP): let it land first.
            await asyncio.sleep(0)
            raise ClientDisconnected("the client has disconnected")
        if self.websocket:
            outbox.put(message)
        else:
            outbox.put(message, wake=False)
            if not self._flush_due:
                self._flush_due = True
                self._loop.call_soon(self._flush)
        if len(outbox) > OUTBOX_LIMIT:
            await outbox.room(OUTBOX_LIMIT // 2)

    def _flush(self) -> None:
        self._flush_due = False
        self._exchange.outbox.flush()


def _takes_argument(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params)


class _Lifespan(LifespanOn):
    """uvicorn's lifespan driver, keeping the app's startup error for the deploy's."""

    failure = ""

    async def send(self, message: Any) -> None:  # uvicorn's own lifespan event types
        if message["type"] == "lifespan.startup.failed":
            self.failure = str(message.get("message", ""))
        await super().send(message)


_INTERNAL_ERROR: list[Message] = [
    {
        "type": "http.response.start",
        "status": 500,
        # Ray 2.60 sends this 500 without a content-type, as measured (docs/reference-impl.md).
        "headers": [(b"content-length", b"21")],
    },
    {"type": "http.response.body", "body": b"Internal Server Error"},
]


class Replica:
    """Runs one instance of a deployment; `ongoing` is maintained by its Router."""

    def __init__(
        self,
        deployment: Deployment,
        app_name: str,
        index: int,
        init_args: tuple[Any, ...],
        init_kwargs: dict[str, Any],
        world_size: int = 1,
    ) -> None:
        from ..schema import ReplicaRank

        self.deployment = deployment
        self.app_name = app_name
        self.id = f"{app_name}#{deployment.name}#{index}"
        self.index = index
        self.stopped = False
        self.ongoing = 0
        self.context = ReplicaContext(
            replica_id=ReplicaID.new(deployment.name, app_name),
            servable_object=None,
            rank=ReplicaRank(rank=index, node_rank=0, local_rank=index),
            world_size=world_size,
        )
        self._init = (init_args, init_kwargs)
        self._thread = LoopThread(f"serve-replica:{self.id}")
        self.actor_id = uuid.uuid4().hex  # as Ray names the replica's actor in errors
        self.start_time_s = 0.0
        self.loop = self._thread.loop
        self.instance: Any = None
        self.asgi_app: ASGIApp | None = None
        self._lifespan: _Lifespan | None = None
        self._call_target: Callable[..., Any] | None = None
        self._call_takes_request = True

    # -- lifecycle -----------------------------------------------------------------

    def start(self, timeout: float) -> None:
        """Construct the user's object on the replica's thread; raise what it raised."""
        self.start_time_s = time.time()
        try:
            self._thread.run(self._start(), timeout)
        except BaseException as err:
            self._thread.stop()
            raise DeploymentStartError(
                f"Deployment {self.deployment.name!r} failed to start its replica: {type(err).__name__}: {err}"
            ) from err

    async def _start(self) -> None:
        current_replica.set(self.context)
        target = self.deployment.func_or_class
        # Its own copy, as each of Ray's replicas unpickles the deployment's arguments.
        args, kwargs = copy_value(self._init)
        if not inspect.isclass(target):
            self._call_target = target
            self.context.servable_object = target
            await self.reconfigure(self.deployment.options_.user_config)
        else:
            self.instance = target(*args, **kwargs)
            self.context.servable_object = self.instance
            await self.reconfigure(self.deployment.options_.user_config)
            spec = ingress_spec(target)
            if spec is not None:
                self.asgi_app = await build_asgi_app(spec, self.instance)
                if hasattr(self.asgi_app, "add_exception_handler"):
                    # As Ray: an unavailable downstream is a 503, not the app's 500.
                    for exc in _UNAVAILABLE:
                        self.asgi_app.add_exception_handler(exc, lambda _, err: unavailable_response(err))
                await self._lifespan_startup()
            self._call_target = getattr(self.instance, "__call__", None)  # noqa: B004 (the method itself, or None)
        if self._call_target is not None:
            self._call_takes_request = _takes_argument(self._call_target)
        if self.has_health_check:  # Ray's initial health check: failing it fails the start
            await asyncio.wait_for(self._check_health(), self.deployment.options_.health_check_timeout_s)

    def successor(self, deployment: Deployment | None = None, index: int | None = None) -> Replica:
        """A new, unstarted replica in this one's place (same index and arguments), or of
        the same deployment with other options or at another index."""
        args, kwargs = self._init
        return Replica(
            deployment or self.deployment,
            self.app_name,
            self.index if index is None else index,
            args,
            kwargs,
            self.context.world_size,
        )

    def apply_user_config(self, user_config: Any, timeout: float) -> None:
        """A `user_config` change reaching the running replica (Ray's in-place update)."""
        self._thread.run(self.reconfigure(user_config), timeout)

    @property
    def has_health_check(self) -> bool:
        return callable(getattr(self.instance, "check_health", None))

    def submit_health_check(self) -> concurrent.futures.Future[None]:
        return self._thread.submit(self._check_health())

    async def _check_health(self) -> None:
        current_replica.set(self.context)
        result = self.instance.check_health()
        if inspect.isawaitable(result):
            await result

    async def reconfigure(self, user_config: Any) -> None:
        """Call the class's `reconfigure(user_config)` as Ray 2.60 does: when a
        `user_config` is set, or always when the method takes a `rank` (passed as
        a keyword)."""
        current_replica.set(self.context)
        method = getattr(self.instance, "reconfigure", None) if self.instance is not None else None
        wants_rank = method is not None and _has_parameter(method, "rank")
        if user_config is None and not wants_rank:
            return
        if self.instance is None:
            raise ValueError("deployment_def must be a class to use user_config or rank")
        if method is None:
            raise RayServeException(
                "user_config or rank specified but deployment "
                f"{self.context.replica_id.deployment_id} missing reconfigure method"
            )
        kwargs = {"rank": self.context.rank} if wants_rank else {}
        result = method(user_config, **kwargs)
        if inspect.isawaitable(result):
            await result

    async def _lifespan_startup(self) -> None:
        assert self.asgi_app is not None
        lifespan = _Lifespan(Config(cast(Any, self.asgi_app), lifespan="auto", log_config=None))
        await lifespan.startup()
        if lifespan.startup_failed or lifespan.should_exit:
            # The app's traceback is logged; its last line names the error.
            lines = lifespan.failure.strip().splitlines()
            raise RuntimeError(f"the ASGI app's lifespan startup failed: {lines[-1] if lines else 'see the log'}")
        self._lifespan = lifespan

    async def _shutdown_hooks(self) -> None:
        current_replica.set(self.context)
        if self._lifespan is not None:
            await self._lifespan.shutdown()
        if self.instance is not None:
            await finalize(self.instance)

    def stop(self, timeout: float | None = None) -> None:
        """As Ray: the app's lifespan shutdown, then the object's `__del__` (awaited
        when async), within `graceful_shutdown_timeout_s`; then cancel what still
        runs and join the thread."""
        self.stopped = True
        if timeout is None:
            timeout = self.deployment.options_.graceful_shutdown_timeout_s
        if self._lifespan is not None or self.instance is not None:
            try:
                self._thread.run(self._shutdown_hooks(), timeout)
            except Exception:
                logger.exception("Shutdown hooks of %s failed", self.id)
        self._thread.stop(timeout)

    # -- requests ------------------------------------------------------------------

    def submit_asgi(
        self,
        scope: Scope,
        exchange: Exchange,
        on_finish: Callable[[], None],
        multiplexed_model_id: str = "",
    ) -> ReplicaCall:
        context = RequestContext(
            exchange.request_id,
            route=scope.get("root_path", ""),
            app_name=self.app_name,
            multiplexed_model_id=multiplexed_model_id,
            is_http_request=True,
        )
        call = ReplicaCall(self, context, result=False)
        self._launch(call, self._serve_asgi(call, scope, exchange), on_finish)
        return call

    def submit_method(
        self,
        method_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        request_id: str,
        on_finish: Callable[[], None],
        *,
        multiplexed_model_id: str = "",
        stream: Channel[Any] | None = None,
    ) -> ReplicaCall:
        context = RequestContext(request_id, app_name=self.app_name, multiplexed_model_id=multiplexed_model_id)
        call = ReplicaCall(self, context)
        self._launch(call, self._run_method(call, method_name, args, kwargs, stream), on_finish)
        return call

    def _launch(self, call: ReplicaCall, coro: Coroutine[Any, Any, Any], on_finish: Callable[[], None]) -> None:
        try:
            self.loop.call_soon_threadsafe(self._start_call, call, coro, on_finish)
        except RuntimeError:
            coro.close()
            on_finish()
            if call._future is not None:
                call._future.set_exception(RuntimeError(f"Replica {self.id} is shut down"))

    def _start_call(self, call: ReplicaCall, coro: Coroutine[Any, Any, Any], on_finish: Callable[[], None]) -> None:
        task = self.loop.create_task(coro)
        call.task = task
        task.add_done_callback(functools.partial(_settle, call, on_finish=on_finish))

    async def _run_method(
        self,
        call: ReplicaCall,
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        stream: Channel[Any] | None,
    ) -> Any:
        """The method's result, copied as Ray's boundary copies it; what the method
        raised reaches the caller as Ray's `RayTaskError(<its type>)`."""
        current_request.set(call.context)
        current_replica.set(self.context)
        current_user_object.set(self.instance)
        try:
            if name == "__call__":
                fn = self._call_target
            else:
                fn = getattr(self.instance, name, None) if self.instance is not None else None
            if fn is None:
                raise RayServeException(
                    f"Tried to call a method '{name}' that does not exist. Available methods: {self._methods()}."
                )
            result = fn(*args, **kwargs)
            if stream is not None:
                await stream_items(result, stream, name)
                return None
            if inspect.isgenerator(result) or inspect.isasyncgen(result):
                result.close() if inspect.isgenerator(result) else await result.aclose()
                raise TypeError(
                    f"Method '{name}' returned a generator. You must use "
                    "`handle.options(stream=True)` to call generators on a deployment."
                )
            if inspect.isawaitable(result):
                result = await result
            return copy_value(result)
        except Exception as err:
            raise self._task_error(err) from None

    def _methods(self) -> list[str]:
        """What Ray lists as a deployment's methods: its callable attributes not named `__x__`."""
        target = self.instance if self.instance is not None else self._call_target
        return [n for n in dir(target) if not n.startswith("__") and callable(getattr(target, n, None))]

    def _task_error(self, err: Exception) -> RayTaskError:
        """`err` as a handle caller on Ray gets it: a `RayTaskError` that is also an
        instance of the original type, headed by the replica's process. An error from a
        call further down is not wrapped twice: its cause stays the original error."""
        cause = err.cause if isinstance(err, RayTaskError) else err
        try:
            cause = copy_value(cause)  # it crosses the boundary as the result would
        except Exception:
            pass
        app, deployment = self.app_name, self.deployment.name
        error = RayTaskError(
            f"ServeReplica:{app}:{deployment}.handle_request_with_rejection",
            format_remote_traceback(err),
            cause,
            proctitle=f"ray::ServeReplica:{app}:{deployment}.handle_request_with_rejection()",
            pid=os.getpid(),
            ip="127.0.0.1",
            actor_repr=f"<ray.serve._private.replica.ServeReplica:{app}:{deployment} object at {id(self):#x}>",
            actor_id=self.actor_id,
        )
        return error.as_instanceof_cause()

    async def _serve_asgi(self, call: ReplicaCall, scope: Scope, ex: Exchange) -> None:
        current_request.set(call.context)
        current_replica.set(self.context)
        current_user_object.set(self.instance)
        receive = _Receiver(ex)
        send = _Sender(ex, self.loop, websocket=scope["type"] == "websocket")
        websocket = send.websocket
        outbox = ex.outbox
        failed = False
        try:
            if self.asgi_app is not None:
                if self._lifespan is not None and self._lifespan.state:
                    scope["state"] = dict(self._lifespan.state)
                await self.asgi_app(scope, receive, send)
            else:
                await self._serve_callable(scope, receive, send)
        except ClientDisconnected:
            failed = True  # nothing to tell the client, nothing to log: it left
        except _UNAVAILABLE as err:
            if send.started or websocket:
                failed = True
            else:
                response: ASGIApp = unavailable_response(err)
                await response(scope, receive, send)
        except Exception:
            logger.exception("Request %s to %s failed", ex.request_id, self.id)
            if send.started or websocket:
                failed = True
            else:
                for message in _INTERNAL_ERROR:
                    outbox.put(message)
        finally:
            outbox.put(Finished(failed))

    async def _serve_callable(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise TypeError(
                f"Deployment {self.deployment.name!r} has no ASGI ingress, so it cannot accept "
                "WebSocket connections; use @serve.ingress(FastAPI()) with @app.websocket."
            )
        fn = self._call_target
        if fn is None:
            raise TypeError(f"Deployment {self.deployment.name!r} has no __call__ method")
        result = fn(Request(scope, receive, send)) if self._call_takes_request else fn()
        if inspect.isawaitable(result):
            result = await result
        await to_response(result)(scope, receive, send)


_UNAVAILABLE = (BackPressureError, DeploymentUnavailableError)
# Messages of one response that may wait for the proxy before the handler's `send` waits.
OUTBOX_LIMIT = 64


def unavailable_response(err: Exception) -> Response:
    """What Ray answers when a handler's downstream call raised `BackPressureError`
    (its status, 503 by default, and `Retry-After`) or `DeploymentUnavailableError`."""
    if isinstance(err, BackPressureError):
        headers = None if err.retry_after_s is None else {"retry-after": retry_after(err.retry_after_s)}
        return Response(err.message, status_code=err.status_code, headers=headers)
    assert isinstance(err, DeploymentUnavailableError)
    return Response(err.message, status_code=503)


def _has_parameter(fn: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _settle(call: ReplicaCall, task: asyncio.Task[Any], *, on_finish: Callable[[], None]) -> None:
    on_finish()
    future = call._future
    if future is None:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it again
        return
    if task.cancelled():
        future.cancel()
    elif (exc := task.exception()) is not None:
        future.set_exception(exc)
    else:
        future.set_result(task.result())
