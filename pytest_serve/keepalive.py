"""The load-balancer check: is the idle timeout in front of Serve shorter than Serve's own?

A load balancer or ingress keeps connections to Serve open between requests. If it
keeps an idle one longer than Serve does, Serve closes it while the balancer still
takes it for usable; the next request it sends there fails (a 502, a reset) — the
keep-alive race that every serving stack behind a load balancer meets. The rule: the
balancer's idle timeout must be shorter than Serve's `keep_alive_timeout_s`.

Both figures are measured, not read from settings: the seconds until an idle
keep-alive connection is closed, once at Serve's proxy and once through the URL
clients use. No pytest import here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .http import idle_close_after

__all__ = ["MARGIN_S", "IdleCloseCheck", "keep_alive_verdict"]

#: The address clients use must close idle connections at least this much sooner than
#: Serve to count as shorter (timer granularity, a loaded machine).
MARGIN_S = 0.5


@dataclass
class IdleCloseCheck:
    """One idle-close measurement running in a background thread."""

    url: str
    max_wait: float
    seconds: float | None = None
    error: str | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    @classmethod
    def begin(cls, url: str, max_wait: float) -> IdleCloseCheck:
        check = cls(url, max_wait)
        check._thread = threading.Thread(target=check._run, name=f"idle-close {url}", daemon=True)
        check._thread.start()
        return check

    def _run(self) -> None:
        try:
            self.seconds = idle_close_after(self.url, max_wait=self.max_wait)
        except Exception as err:
            self.error = f"{type(err).__name__}: {err}"

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """The figure, waiting for it at most `timeout` s (default: until it must be done)."""
        if self._thread is not None:
            self._thread.join(self.max_wait + 15 if timeout is None else timeout)
        if self._thread is not None and self._thread.is_alive():
            return {"url": self.url, "seconds": None, "note": "measurement still running"}
        if self.error is not None:
            return {"url": self.url, "seconds": None, "note": f"could not measure: {self.error}"}
        if self.seconds is None:
            return {"url": self.url, "seconds": None, "note": f"still open after {self.max_wait:.0f} s"}
        return {"url": self.url, "seconds": round(self.seconds, 2)}


def _figure(seconds: float | None, max_wait: float) -> str:
    return f"{seconds:.1f} s" if seconds is not None else f"more than {max_wait:.0f} s"


def keep_alive_verdict(serve_s: float | None, client_s: float | None, max_wait: float) -> tuple[str, str]:
    """("ok" | "risk" | "unknown", explanation) for Serve's idle close `serve_s` and the one
    seen through the clients' URL `client_s` (None: still open after `max_wait` s)."""
    serve, client = _figure(serve_s, max_wait), _figure(client_s, max_wait)
    if serve_s is None and client_s is None:
        return "unknown", f"neither Serve ({serve}) nor the clients' URL ({client}) closed an idle connection in time"
    if client_s is not None and (serve_s is None or client_s <= serve_s - MARGIN_S):
        return "ok", (
            f"the clients' URL closes idle connections after {client}, before Serve's proxy does ({serve}): "
            "the load balancer gives up on a connection before Serve can close it under it"
        )
    return "risk", (
        f"the clients' URL keeps idle connections {client}, not shorter than Serve's proxy ({serve}): a load "
        "balancer that reuses a connection Serve has just closed answers 502 or resets; make its idle timeout "
        f"shorter than Serve's keep_alive_timeout_s (or raise that above the balancer's) by more than {MARGIN_S} s"
    )
