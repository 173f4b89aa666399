"""The `ray` module that unchanged Serve apps see while `ray_alias` is installed.

It carries the three calls Serve scripts make around `serve.run` (`init`,
`shutdown`, `is_initialized`) and the `serve` namespace. Any other Ray API fails
loudly with its name, instead of half-working: code that needs real Ray must run
on real Ray.
"""

from __future__ import annotations

import threading
from typing import Any

from .unavailable import HINT, RayAPIUnavailableError, unavailable

__all__ = ["HINT", "RayAPIUnavailableError", "__version__", "init", "is_initialized", "shutdown", "unavailable"]

#: The Ray release whose Serve API the reference follows; apps that check `ray.__version__`
#: see it.
__version__ = "2.60.0"

_lock = threading.Lock()
_initialized = False


def init(address: str | None = None, **kwargs: Any) -> None:
    """Accept `ray.init(...)` as Serve scripts call it; there is no cluster to join.

    Like Ray, a second call without `ignore_reinit_error=True` raises.
    """
    global _initialized
    with _lock:
        if _initialized and not kwargs.get("ignore_reinit_error", False):
            raise RuntimeError(
                "Maybe you called ray.init twice by accident? This error can be suppressed by "
                "passing in 'ignore_reinit_error=True' or by calling 'ray.shutdown()' prior "
                "to 'ray.init()'."
            )
        _initialized = True


def shutdown(*args: Any, **kwargs: Any) -> None:
    """As on Ray, where Serve lives in the cluster: stops Serve too."""
    global _initialized
    from . import api

    with _lock:
        _initialized = False
    api.shutdown()


def is_initialized() -> bool:
    """True after `init()`, and while Serve runs (`serve.run` starts Ray implicitly)."""
    from . import api

    return _initialized or api.running_instance() is not None


def _reset() -> None:
    global _initialized
    with _lock:
        _initialized = False
