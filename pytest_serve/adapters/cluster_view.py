"""Serve on a shared cluster as the code under test sees it: in the names the test gave.

The cluster adapter deploys each app of a session as `psv-<id>-NAME` at `/psv-<id>/PREFIX`,
so that sessions (and xdist workers) share a cluster without meeting. `SessionServe` is
the `serve` module tests get there: names going in are the session's, names and messages
coming out are the test's again. It pickles as itself, so deployments that use `serve`
take it to their replicas (this module travels by value: replicas need not have
pytest-serve installed), where `get_replica_context().app_name` is the test's name too.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import uuid
from types import ModuleType
from typing import Any

__all__ = ["Namespace", "SessionServe"]


@dataclasses.dataclass(frozen=True)
class Namespace:
    """This session's corner of a shared Serve: app names and route prefixes of its own."""

    tag: str

    @classmethod
    def new(cls) -> Namespace:
        return cls(f"psv-{uuid.uuid4().hex[:8]}")

    @property
    def root(self) -> str:
        """The route prefix under which every app of this session lives."""
        return f"/{self.tag}"

    def name(self, name: str) -> str:
        """The cluster's name of the test's app `name` (a name already the cluster's stays)."""
        return name if self.owns(name) else f"{self.tag}-{name}"

    def prefix(self, route_prefix: str | None) -> str | None:
        if route_prefix is None:
            return None
        return self.root if route_prefix == "/" else self.root + route_prefix

    def owns(self, name: str) -> bool:
        return name.startswith(self.tag + "-")

    def original(self, name: str) -> str:
        return name[len(self.tag) + 1 :] if self.owns(name) else name

    def unmask(self, text: str) -> str:
        """`text` (an error, a status message) in the test's names and prefixes."""
        text = text.replace(self.root + "/", "/")
        text = re.sub(re.escape(self.root) + r"(?![\w-])", "/", text)
        return text.replace(self.tag + "-", "")

    def unmask_error(self, err: BaseException) -> BaseException:
        """`err` with its message in the test's names (its type and traceback unchanged)."""
        err.args = tuple(self.unmask(arg) if isinstance(arg, str) else arg for arg in err.args)
        return err


class _ContextView:
    """A replica's context with the test's app name; every other field is the context's."""

    def __init__(self, context: Any, app_name: str) -> None:
        self._context = context
        self.app_name = app_name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._context, attr)

    def __repr__(self) -> str:
        return f"{self._context!r} (app_name {self.app_name!r} in this session)"


def _session_serve(tag: str) -> SessionServe:
    """How a pickled `SessionServe` comes back (on a replica): around that process's Serve."""
    return SessionServe(importlib.import_module("ray.serve"), Namespace(tag))


class SessionServe(ModuleType):
    """`ray.serve` in this session's names: the handle getters and `get_replica_context`
    translate, `status` lists this session's apps only; everything else is Serve's own."""

    def __init__(self, serve: ModuleType, namespace: Namespace) -> None:
        super().__init__(serve.__name__, serve.__doc__)
        self._serve = serve
        self._ns = namespace

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._serve, attr)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_session_serve, (self._ns.tag,))

    def get_replica_context(self) -> Any:
        context = self._serve.get_replica_context()
        name = getattr(context, "app_name", None)
        if isinstance(name, str) and self._ns.owns(name):
            return _ContextView(context, self._ns.original(name))
        return context

    def get_app_handle(self, name: str) -> Any:
        return self._serve.get_app_handle(self._ns.name(name))

    def get_deployment_handle(self, deployment_name: str, app_name: str | None = None, **kw: Any) -> Any:
        app = self._ns.name(app_name) if app_name is not None else None
        return self._serve.get_deployment_handle(deployment_name, app_name=app, **kw)

    def status(self) -> Any:
        status = self._serve.status()
        apps = {
            self._ns.original(name): self._unmask_status(app)
            for name, app in status.applications.items()
            if self._ns.owns(name)
        }
        return dataclasses.replace(status, applications=apps)

    def _unmask_status(self, app: Any) -> Any:
        deployments = {
            name: dataclasses.replace(d, message=self._ns.unmask(d.message)) for name, d in app.deployments.items()
        }
        return dataclasses.replace(app, message=self._ns.unmask(app.message), deployments=deployments)
