"""A small, fast, in-process implementation of Ray Serve's HTTP API.

    from reference_impl import serve

runs the examples of Ray Serve's "Set Up FastAPI and HTTP" guide unchanged.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "serve"]


def __getattr__(name: str) -> Any:
    # `serve` (with uvicorn, Starlette and pydantic) loads on first use rather than with
    # the package: the pytest plugin needs only `ray_alias` from it until a test runs.
    if name == "serve":
        return importlib.import_module(f"{__name__}.serve")
    raise AttributeError(f"module 'reference_impl' has no attribute {name!r}")
