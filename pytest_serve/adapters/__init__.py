"""Choosing the implementation under test from a `--serve-impl` value."""

from __future__ import annotations

import importlib

from ..deployed import NoHTTPError
from .base import Adapter, AdapterError, NotTestableError, build_application, free_port, patched_environ

__all__ = [
    "Adapter",
    "AdapterError",
    "NoHTTPError",
    "NotTestableError",
    "build_application",
    "free_port",
    "load_adapter",
    "patched_environ",
]

BUILTIN = ("reference", "ray", "ray-local")


def load_adapter(spec: str, *, ray_address: str | None = None, serve_url: str | None = None) -> Adapter:
    """`reference`, `ray`, `ray-local` (Ray Serve's local testing mode), `pkg.module` (a
    module with the Serve API) or `pkg.module:Adapter`.

    `ray_address` (with `ray`) connects to a running cluster instead of starting Ray;
    `serve_url` is where clients reach that cluster's Serve, if not at its proxy's address.
    """
    spec = spec.strip()
    if spec != "ray" and (ray_address or serve_url):
        option = "--ray-address" if ray_address else "--serve-url"
        raise AdapterError(f"{option} applies to --serve-impl=ray only (got --serve-impl={spec})")
    if serve_url and not ray_address:
        raise AdapterError(
            "--serve-url needs --ray-address: it names where clients reach a running cluster's Serve, "
            "while a private Ray's proxy listens on a port chosen at start"
        )
    if spec == "ray" and ray_address:
        from .ray_cluster import RayClusterAdapter

        return RayClusterAdapter(ray_address, serve_url)
    if spec == "reference":
        from .reference import ReferenceAdapter

        return ReferenceAdapter()
    if spec == "ray-local":
        from .ray_local import RayLocalAdapter  # Ray Serve's own in-process mode

        return RayLocalAdapter()
    if spec == "ray":
        from .ray import RayAdapter  # imports ray lazily; raises AdapterError without it

        return RayAdapter()
    if ":" in spec:
        module_name, _, class_name = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise AdapterError(
                f"--serve-impl={spec}: cannot import {module_name!r} ({err}); is it installed and on sys.path?"
            ) from None
        cls = getattr(module, class_name, None)
        if not (isinstance(cls, type) and issubclass(cls, Adapter)):
            raise AdapterError(
                f"--serve-impl={spec}: {module_name}.{class_name} is not a subclass of pytest_serve.adapters.Adapter"
            )
        try:
            return cls()
        except AdapterError:
            raise
        except Exception as err:
            raise AdapterError(f"--serve-impl={spec}: creating the adapter failed: {err}") from None
    if not spec or not all(part.isidentifier() for part in spec.split(".")):
        raise AdapterError(
            f"--serve-impl={spec!r} is not valid; use one of {list(BUILTIN)}, a module path "
            "('pkg.serve') or 'pkg.module:AdapterClass'"
        )
    from .generic import ModuleAdapter

    return ModuleAdapter(spec)
