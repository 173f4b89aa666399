"""Facts about the instance a report was made on, as readers of a report see them.

They come from `Adapter.instance_facts()` and describe the instance as a whole (a
cluster's address, its Serve settings, how long it keeps idle connections at the proxy
and through the clients' URL, the load-balancer keep-alive check), unlike a test's
`serve_observe` figures, which belong to the clauses the test checks. Shared by the
Markdown and HTML reports. No pytest import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["KEEP_ALIVE_CHECK", "TITLE", "fact_rows", "keep_alive_check"]

#: The heading of the facts' section in a report.
TITLE = "Observed on the instance"
#: The fact that holds the load-balancer check's verdict and explanation.
KEEP_ALIVE_CHECK = "keep_alive_check"


def fact_rows(facts: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(fact, text) per fact, the keep-alive check left for `keep_alive_check`."""
    return [(str(key), _text(value)) for key, value in facts.items() if key != KEEP_ALIVE_CHECK]


def keep_alive_check(facts: Mapping[str, Any]) -> tuple[str, str] | None:
    """(verdict, explanation) of the load-balancer keep-alive check, if it was made."""
    check = facts.get(KEEP_ALIVE_CHECK)
    if not isinstance(check, Mapping):
        return None
    return str(check.get("verdict", "unknown")), str(check.get("detail", ""))


def _text(value: Any) -> str:
    if isinstance(value, Mapping) and "url" in value:  # an idle-close figure
        seconds = value.get("seconds")
        shown = f"{seconds} s" if seconds is not None else str(value.get("note", "not measured"))
        return f"{shown} at {value['url']}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v!r}" for k, v in value.items())
    return str(value)
