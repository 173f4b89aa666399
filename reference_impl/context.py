"""Who and what is running: the replica context and the per-request context.

`serve.get_replica_context()` answers from inside a replica (its `__init__`,
`reconfigure` and requests) with Ray 2.60's `ReplicaContext`. The request context
carries what Ray's proxy and handles attach to a request (its ID, app, route and
multiplexed model ID) plus, for the reference itself, the child handle calls to
cancel along with it (CAN-5, CAN-7).

Each replica runs on its own thread and loop, and several share this process, so
both contexts are context variables set where a replica enters user code.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .exceptions import RayServeException
from .unavailable import ray_names_getattr

if TYPE_CHECKING:
    from .schema import ReplicaRank

__all__ = [
    "DeploymentID",
    "ReplicaContext",
    "ReplicaID",
    "current_replica",
    "current_request",
    "get_replica_context",
]

DEFAULT_APP_NAME = "default"


@dataclass(frozen=True)
class DeploymentID:
    name: str
    app_name: str = DEFAULT_APP_NAME

    def __str__(self) -> str:
        return f"Deployment(name='{self.name}', app='{self.app_name}')"

    __repr__ = __str__


@dataclass(frozen=True)
class ReplicaID:
    unique_id: str
    deployment_id: DeploymentID

    @classmethod
    def new(cls, deployment: str, app_name: str) -> ReplicaID:
        """A fresh ID; Ray's are 8 random lowercase letters and digits."""
        return cls(uuid.uuid4().hex[:8], DeploymentID(deployment, app_name))

    def to_full_id_str(self) -> str:
        d = self.deployment_id
        prefix = f"{d.app_name}#" if d.app_name else ""
        return f"SERVE_REPLICA::{prefix}{d.name}#{self.unique_id}"

    def __str__(self) -> str:
        return self.to_full_id_str()


@dataclass
class ReplicaContext:
    """What `serve.get_replica_context()` returns (Ray 2.60's fields)."""

    replica_id: ReplicaID
    servable_object: Callable[..., Any] | None
    rank: ReplicaRank
    world_size: int
    gang_context: Any = None
    code_version: str | None = None
    # Per-replica state of `@serve.multiplexed` loaders: the reference runs many
    # replicas in one process, so it cannot live on a module-level function.
    _multiplexers: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def app_name(self) -> str:
        return self.replica_id.deployment_id.app_name

    @property
    def deployment(self) -> str:
        return self.replica_id.deployment_id.name

    @property
    def replica_tag(self) -> str:
        return self.replica_id.unique_id

    def loaded_model_ids(self) -> set[str]:
        """The multiplexed model IDs loaded on this replica (for routing)."""
        return {mid for mux in self._multiplexers.values() for mid in mux.models}


def new_request_id() -> str:
    """A request ID of the form of `str(uuid.uuid4())`, as Ray's, at a fraction of the
    cost (no urandom system call per request); an ID, not a secret."""
    h = f"{random.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


class _RequestContext:
    """One request's context: Ray's fields, and the handle calls it made."""

    __slots__ = (
        "_internal_request_id",
        "app_name",
        "children",
        "is_http_request",
        "multiplexed_model_id",
        "request_id",
        "route",
        "session_id",
    )

    def __init__(
        self,
        request_id: str = "",
        *,
        route: str = "",
        app_name: str = "",
        multiplexed_model_id: str = "",
        is_http_request: bool = False,
    ) -> None:
        self.request_id = request_id
        self._internal_request_id = request_id
        self.route = route
        self.app_name = app_name
        self.multiplexed_model_id = multiplexed_model_id
        self.session_id = ""
        self.is_http_request = is_http_request
        self.children: set[Any] = set()

    def cancel_children(self) -> None:
        for child in list(self.children):
            child.cancel()


RequestContext = _RequestContext

current_replica: ContextVar[ReplicaContext | None] = ContextVar("serve_replica", default=None)
current_request: ContextVar[_RequestContext | None] = ContextVar("serve_request", default=None)
# Ray's name for the same variable, read by code written against Ray's internals.
_serve_request_context = current_request


def _get_internal_replica_context() -> ReplicaContext | None:
    return current_replica.get()


def _get_serve_request_context() -> _RequestContext:
    """The running request's context (an empty one outside a request, as in Ray)."""
    context = current_request.get()
    if context is None:
        context = _RequestContext()
        current_request.set(context)
    return context


def get_replica_context() -> ReplicaContext:
    """The context of the replica running this code; raises outside a replica."""
    context = current_replica.get()
    if context is None:
        raise RayServeException("`serve.get_replica_context()` may only be called from within a Ray Serve deployment.")
    return context


def get_multiplexed_model_id() -> str:
    """The multiplexed model ID of the running request ("" when none was given)."""
    context = current_request.get()
    return context.multiplexed_model_id if context is not None else ""


# Ray's names this module lacks: importing them works, using them says to run on Ray
# (hidden from type checkers, which would otherwise accept any name from this module).
if not TYPE_CHECKING:
    __getattr__ = ray_names_getattr("ray.serve.context")
