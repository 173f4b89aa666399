"""Faults that break the CAN clauses (request cancellation) of the reference implementation.

Each one is a plausible way to get cancellation wrong; `test_faults.py` checks that
the CAN conformance tests notice it.
"""

from __future__ import annotations

import asyncio
import ctypes
from typing import Any

import pytest
from faulty import fault

from reference_impl import handle
from reference_impl.runtime import proxy, replica
from reference_impl.runtime.loops import wait_threadsafe


@fault("no-request-timeout", "CAN-1")
def _(mp: pytest.MonkeyPatch) -> None:
    """The proxy ignores `http_options.request_timeout_s`: slow requests run on."""
    original = proxy.Proxy.__init__

    def init(self: proxy.Proxy, routes: Any, options: Any) -> None:
        original(self, routes, options)
        self._timeout = None

    mp.setattr(proxy.Proxy, "__init__", init)


@fault("timeout-not-cancelled", "CAN-1")
def _(mp: pytest.MonkeyPatch) -> None:
    """At the timeout the client gets 408, but the handler is left running."""

    async def timed_out(self: proxy.Proxy, flow: Any, send: Any) -> None:
        flow.settled = True
        if not flow.started:
            await proxy._send_simple(send, 408, b"timed out", proxy._TEXT)

    mp.setattr(proxy.Proxy, "_timed_out", timed_out)


@fault("no-disconnect-cancel", "CAN-2")
def _(mp: pytest.MonkeyPatch) -> None:
    """The proxy notices the client leaving but does not cancel the request on its replica."""

    def client_left(self: Any) -> None:
        self.ex.client_gone = True
        if self.waiting is not None:
            self.waiting.cancel()
        self.ex.outbox.put(proxy._CLIENT_GONE)

    mp.setattr(proxy._Flow, "client_left", client_left)


@fault("queued-client-gone-ignored", "CAN-3")
def _(mp: pytest.MonkeyPatch) -> None:
    """A request waiting for a replica slot stays in line after its client left, so the
    replica runs it when a slot frees up."""
    original = proxy._Flow.client_left

    def client_left(self: Any) -> None:
        if self.call is None:
            return
        original(self)

    mp.setattr(proxy._Flow, "client_left", client_left)


@fault("cancel-interrupts-sync-code", "CAN-4")
def _(mp: pytest.MonkeyPatch) -> None:
    """Cancelling a request that is running right now injects CancelledError into the
    replica's thread, so even code with no `await` (a blocking `time.sleep`) is cut short."""
    original = replica.ReplicaCall.cancel

    def cancel(self: Any) -> None:
        thread = self._replica._thread._thread
        running = asyncio.current_task(self._replica.loop)
        if running is not None and running is self.task and thread.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread.ident), ctypes.py_object(asyncio.CancelledError)
            )
        original(self)

    mp.setattr(replica.ReplicaCall, "cancel", cancel)


@fault("cancel-leaks-slot", "CAN-4")
def _(mp: pytest.MonkeyPatch) -> None:
    """A request whose client left never gives its replica slot back, so a replica at
    `max_ongoing_requests=1` serves nothing more once such a request has finished."""
    original = replica.Replica.submit_asgi

    def submit_asgi(self: Any, scope: Any, exchange: Any, on_finish: Any, *rest: Any) -> Any:
        def finish() -> None:
            if not exchange.client_gone:
                on_finish()

        return original(self, scope, exchange, finish, *rest)

    mp.setattr(replica.Replica, "submit_asgi", submit_asgi)


@fault("no-cascade", "CAN-5")
def _(mp: pytest.MonkeyPatch) -> None:
    """A cancelled caller stops waiting for its `DeploymentHandle` call but leaves the
    downstream request running."""

    async def execute(self: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        args = tuple([await handle._resolve(a) for a in args])
        kwargs = {k: await handle._resolve(v) for k, v in kwargs.items()}
        router = self._router
        slot = router.try_assign() or await router.assign()
        call = slot.submit_method(method, args, kwargs, self.request_id, lambda: router.release(slot))
        self._call = call
        return await wait_threadsafe(call.future)

    mp.setattr(handle.DeploymentResponse, "_execute", execute)


@fault("cancel-kills-shielded", "CAN-6")
def _(mp: pytest.MonkeyPatch) -> None:
    """Cancelling a request cancels every task it created on its replica, including the
    one `asyncio.shield` protects."""
    original = replica.Replica.start

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        context = replica.current_request.get()
        if context is not None:
            context.children.add(task)  # cancel_children() cancels it with the request
        return task

    def start(self: Any, timeout: float) -> None:
        self.loop.set_task_factory(factory)
        original(self, timeout)

    mp.setattr(replica.Replica, "start", start)


@fault("shielded-handle-call-survives", "CAN-7")
def _(mp: pytest.MonkeyPatch) -> None:
    """A cancelled request does not cancel its child handle calls itself; only a caller
    awaiting one directly passes the cancellation on, and `asyncio.shield` stops that."""
    mp.setattr(replica.RequestContext, "cancel_children", lambda self: None)
