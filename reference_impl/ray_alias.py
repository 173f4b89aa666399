"""Run unchanged `from ray import serve` code on the reference implementation.

As moto stands in for AWS under boto3, `install()` makes `import ray` give a small
stand-in (`ray_stub`) whose `ray.serve` and Serve submodules are the reference's
own modules. It is one switch for every way of running code: the pytest plugin
installs it before collection, `reference-serve run`/`exec` before importing the
app or script, and `ray_alias()` is a context manager for anything else.

Ray installed or not, nothing of real Ray is imported while the alias is in place;
any Ray module or API outside Serve raises an error that names it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from . import ray_stub

__all__ = [
    "SERVE_MODULES",
    "RayAlreadyImportedError",
    "install",
    "is_installed",
    "ray_alias",
    "real_ray_version",
    "uninstall",
]

# Ray's module name → the reference module that stands in for it.
SERVE_MODULES: dict[str, str] = {
    "ray.serve": "reference_impl.serve",
    "ray.serve.api": "reference_impl.serve",  # the names Ray's `api` defines are all in `serve`
    "ray.serve.batching": "reference_impl.batching",
    "ray.serve.deployment": "reference_impl.deployment",
    "ray.serve.multiplex": "reference_impl.multiplex",
    "ray.serve.handle": "reference_impl.handle",
    "ray.serve.exceptions": "reference_impl.exceptions",
    "ray.serve.config": "reference_impl.config",
    "ray.serve.schema": "reference_impl.schema",
    "ray.serve.metrics": "reference_impl.metrics",
    "ray.serve.context": "reference_impl.context",
    "ray.exceptions": "reference_impl.ray_exceptions",
}

_lock = threading.Lock()
_installed: list[str] = []  # the sys.modules keys we set, in order
_made_packages: list[types.ModuleType] = []  # modules given a __path__ while installed


class RayAlreadyImportedError(RuntimeError):
    """Real `ray` was imported before the alias could be installed."""


class _Finder(importlib.abc.MetaPathFinder):
    """Refuses `ray.*` modules that the reference does not stand in for, by name."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "ray" or fullname.startswith("ray."):
            raise ModuleNotFoundError(
                f"No module named {fullname!r} in the reference implementation's stand-in "
                f"for Ray, which provides {', '.join(SERVE_MODULES)}; {ray_stub.HINT}.",
                name=fullname,
            )
        return None


_FINDER = _Finder()


def _stub_module() -> types.ModuleType:
    module = types.ModuleType("ray", ray_stub.__doc__)
    module.__path__ = []  # a package, so `import ray.serve.handle` resolves through sys.modules
    module.__spec__ = importlib.machinery.ModuleSpec("ray", None, is_package=True)
    for name in ("init", "shutdown", "is_initialized", "__version__"):
        setattr(module, name, getattr(ray_stub, name))

    def __getattr__(name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        ray_stub.unavailable(f"ray.{name}")

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


def real_ray_version() -> str | None:
    """The version of the real Ray installed here (without importing it), or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ray")
    except PackageNotFoundError:
        return None


def is_installed() -> bool:
    return bool(_installed)


def install() -> None:
    """Make `ray` and the Serve modules resolve to the reference; idempotent.

    Raises `RayAlreadyImportedError` when real Ray is imported already: its modules
    would mix with the reference's.
    """
    with _lock:
        if _installed:
            return
        loaded = sys.modules.get("ray")
        if loaded is not None:
            where = getattr(loaded, "__file__", None) or "an unknown location"
            raise RayAlreadyImportedError(
                f"`ray` was already imported (from {where}) before pytest-serve could stand "
                "in for it; import it later, or run on real Ray with `--serve-impl=ray`."
            )
        stub = _stub_module()
        modules: dict[str, types.ModuleType] = {"ray": stub}
        for ray_name, ours in SERVE_MODULES.items():
            modules[ray_name] = importlib.import_module(ours)
        for ray_name, module in modules.items():
            parent, _, child = ray_name.rpartition(".")
            if parent and not hasattr(modules[parent], child):  # `serve.deployment` stays the decorator
                setattr(modules[parent], child, module)
            if parent and not hasattr(modules[parent], "__path__"):
                # A package, so that `import ray.serve.<module we lack>` reaches _FINDER's
                # error instead of "'ray.serve' is not a package".
                modules[parent].__path__ = []
                _made_packages.append(modules[parent])
        sys.modules.update(modules)
        sys.meta_path.insert(0, _FINDER)
        _installed[:] = list(modules)


def uninstall() -> None:
    """Undo `install()`: `import ray` finds real Ray (if installed) again."""
    with _lock:
        if not _installed:
            return
        for name in _installed:
            sys.modules.pop(name, None)
        _installed.clear()
        for module in _made_packages:
            del module.__path__
        _made_packages.clear()
        if _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)
        ray_stub._reset()


@contextmanager
def ray_alias() -> Iterator[types.ModuleType]:
    """`with ray_alias() as ray:` — the alias for the block (left in place if it was)."""
    was_installed = is_installed()
    install()
    try:
        yield sys.modules["ray"]
    finally:
        if not was_installed:
            uninstall()
