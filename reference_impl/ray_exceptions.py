"""`ray.exceptions` as Serve apps meet it: the errors a handle call raises, with Ray 2.60's
class tree, constructor arguments and messages.

    RayError
    ├── RayTaskError          a replica raised; `RayTaskError(ValueError)` is also a ValueError
    ├── RayActorError
    │   ├── ActorDiedError
    │   └── ActorUnavailableError
    ├── TaskCancelledError    (Serve's RequestCancelledError is one)
    ├── GetTimeoutError       also a TimeoutError: `.result(timeout_s=...)` ran out
    ├── RaySystemError
    ├── ObjectLostError
    │   ├── OwnerDiedError
    │   └── ObjectFetchTimedOutError
    └── OutOfMemoryError

Other names of Ray's module raise an error that names them: they belong to Ray Core, which
the reference does not run.
"""

from __future__ import annotations

import threading
import traceback
from typing import TYPE_CHECKING, Any

from .unavailable import ray_names_getattr

__all__ = [
    "ActorDiedError",
    "ActorUnavailableError",
    "GetTimeoutError",
    "ObjectFetchTimedOutError",
    "ObjectLostError",
    "OutOfMemoryError",
    "OwnerDiedError",
    "RayActorError",
    "RayError",
    "RaySystemError",
    "RayTaskError",
    "TaskCancelledError",
]

# Ray colours the header of a task error (colorama's cyan, then the default colour).
_CYAN, _RESET = "\x1b[36m", "\x1b[39m"


class RayError(Exception):
    """Super class of all Ray exception types."""


class RayTaskError(RayError):
    """A task (here: a replica serving a handle call) raised. `cause` is the exception it
    raised; `as_instanceof_cause()` gives the `RayTaskError(<cause type>)` that callers
    see, an instance of both classes whose `str()` is Ray's header and the remote traceback."""

    def __init__(
        self,
        function_name: str,
        traceback_str: str,
        cause: BaseException,
        proctitle: str | None = None,
        pid: int | None = None,
        ip: str | None = None,
        actor_repr: str | None = None,
        actor_id: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.traceback_str = traceback_str
        self.cause = cause
        self.proctitle = proctitle or f"ray::{function_name}"
        self.pid = pid
        self.ip = ip
        self.actor_repr = actor_repr
        self.actor_id = actor_id
        self.args = (function_name, traceback_str, cause, proctitle, pid, ip)

    def __str__(self) -> str:
        return _message(self)

    def as_instanceof_cause(self) -> RayTaskError:
        """This error as an instance of its cause's class too (Ray's own method)."""
        cause_type = type(self.cause)
        if issubclass(RayTaskError, cause_type):
            return self  # the cause is a RayError Ray would not re-wrap
        try:
            wrapper = _wrapper_class(cause_type)
        except TypeError:  # a class that cannot be subclassed: Ray keeps a plain RayTaskError
            return self
        error = wrapper(self.cause)  # type: ignore[call-arg, arg-type]  # the wrapper's own __init__
        error.__dict__.update({k: v for k, v in self.__dict__.items() if k != "args"})
        return error


_wrappers: dict[type[BaseException], type[RayTaskError]] = {}
_wrappers_lock = threading.Lock()


def _wrapper_class(cause_type: type[BaseException]) -> type[RayTaskError]:
    with _wrappers_lock:
        found = _wrappers.get(cause_type)
        if found is not None:
            return found
        name = f"RayTaskError({cause_type.__name__})"

        def __init__(self: RayTaskError, cause: BaseException) -> None:
            self.cause = cause
            self.args = (cause,)

        def __getattr__(self: RayTaskError, attr: str) -> Any:
            # Reached only for attributes the wrapper lacks: the cause's own (Ray's rule).
            if attr == "cause" or attr.startswith("__"):
                raise AttributeError(attr)
            return getattr(self.cause, attr)

        namespace = {"__init__": __init__, "__getattr__": __getattr__, "__str__": _message, "__module__": __name__}
        wrapper = type(name, (RayTaskError, cause_type), namespace)
        wrapper.__qualname__ = name
        _wrappers[cause_type] = wrapper
        return wrapper


def _message(error: RayTaskError) -> str:
    """Ray's text: the coloured header naming the process, then the traceback frames
    (without their "Traceback" line), ending with the cause's own last line."""
    details = [f"pid={error.pid}", f"ip={error.ip}"]
    if error.actor_id is not None:
        details.append(f"actor_id={error.actor_id}")
    if error.actor_repr is not None:
        details.append(f"repr={error.actor_repr}")
    header = f"{_CYAN}{error.proctitle}{_RESET} ({', '.join(details)})"
    lines = [line for line in error.traceback_str.splitlines() if line != "Traceback (most recent call last):"]
    return "\n".join([header, *lines])


def format_remote_traceback(error: BaseException) -> str:
    """The traceback of `error` as the remote side prints it. A RayTaskError from a call
    further down shows as Ray shows it: `ray.exceptions.RayTaskError(X): <its text>`."""
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    if isinstance(error, RayTaskError):
        lines[-1] = f"ray.exceptions.{type(error).__qualname__}: {error}\n"
    else:  # the reference's own errors, under the names Ray gives them
        for ours, rays in _RAY_MODULES.items():
            if lines[-1].startswith(ours):
                lines[-1] = rays + lines[-1][len(ours) :]
    return "".join(lines).rstrip("\n")


_RAY_MODULES = {
    "reference_impl.exceptions.": "ray.serve.exceptions.",
    "reference_impl.ray_exceptions.": "ray.exceptions.",
}


class RayActorError(RayError):
    """The actor (a replica) died or could not be reached before finishing the task."""

    def __init__(
        self,
        actor_id: str | None = None,
        error_msg: str = "The actor experienced an error before finishing this task.",
        actor_init_failed: bool = False,
        preempted: bool = False,
    ) -> None:
        super().__init__(error_msg)
        self.actor_id = actor_id
        self.error_msg = error_msg
        self.actor_init_failed = actor_init_failed
        self.preempted = preempted

    def __str__(self) -> str:
        return self.error_msg


class ActorDiedError(RayActorError):
    """The actor died unexpectedly before finishing this task."""

    def __init__(self, cause: Any = None) -> None:
        super().__init__(None, "The actor died unexpectedly before finishing this task.")
        self.cause = cause


class ActorUnavailableError(RayActorError):
    """The actor is temporarily unavailable; the task may or may not have run."""

    def __init__(self, error_message: str, actor_id: bytes | None) -> None:
        shown = actor_id.hex() if actor_id is not None else None
        super().__init__(
            shown,
            f"The actor {shown} is unavailable: {error_message}. "
            "The task may or may not have been executed on the actor.",
        )


class TaskCancelledError(RayError):
    """The task was cancelled."""

    def __init__(self, task_id: Any = None, error_message: str | None = None) -> None:
        super().__init__(*(a for a in (task_id, error_message) if a is not None))
        self.task_id = task_id
        self.error_message = error_message

    def __str__(self) -> str:
        if self.error_message:
            return self.error_message
        return f"Task: {self.task_id} was cancelled." if self.task_id is not None else ""


class GetTimeoutError(RayError, TimeoutError):
    """Getting a result timed out (`DeploymentResponse.result(timeout_s=...)`)."""


class RaySystemError(RayError):
    """Ray itself failed."""

    def __init__(self, client_exc: Any, traceback_str: str | None = None) -> None:
        super().__init__(client_exc, traceback_str)
        self.client_exc = client_exc
        self.traceback_str = traceback_str

    def __str__(self) -> str:
        return f"System error: {self.client_exc}" + (f"\ntraceback: {self.traceback_str}" if self.traceback_str else "")


class ObjectLostError(RayError):
    """An object was lost from the distributed store."""

    def __init__(self, object_ref_hex: str, owner_address: bytes | None, call_site: str) -> None:
        super().__init__(object_ref_hex, owner_address, call_site)
        self.object_ref_hex = object_ref_hex
        self.owner_address = owner_address
        self.call_site = call_site


class OwnerDiedError(ObjectLostError):
    """The object's owner died."""


class ObjectFetchTimedOutError(ObjectLostError):
    """Fetching the object timed out."""


class OutOfMemoryError(RayError):
    """A worker was killed for lack of memory."""


# Ray's names this module lacks: importing them works, using them says to run on Ray
# (hidden from type checkers, which would otherwise accept any name from this module).
if not TYPE_CHECKING:
    __getattr__ = ray_names_getattr("ray.exceptions")
