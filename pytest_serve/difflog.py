"""The pytest plugin `pytest-serve diff` loads into each run (`-p pytest_serve.difflog`).

It writes every test report, one JSON object per line, to the file named by
$PYTEST_SERVE_DIFF_LOG: node ID, phase, outcome, whether it was an expected failure,
the short reason, why the instance could not take the test (a running cluster grades
some tests "not testable"), and the test's known difference if it has one (its
`serve_known_difference` mark, or a line of the `serve_known_differences` ini key that
its ID starts with). Under pytest-xdist the controller writes what its workers report.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any

import pytest

from .properties import NOT_TESTABLE

LOG_ENV_VAR = "PYTEST_SERVE_DIFF_LOG"
KNOWN = "serve_known_difference"

_out: IO[str] | None = None


def known_differences(lines: list[str]) -> dict[str, str]:
    """The ini key's `node-ID-prefix: reason` lines as prefix → reason."""
    known: dict[str, str] = {}
    for line in lines:
        prefix, sep, reason = line.partition(": ")
        if not sep or not prefix.strip() or not reason.strip():
            raise pytest.UsageError(
                f"pytest-serve: serve_known_differences line {line!r} must read 'NODE-ID-PREFIX: reason'"
            )
        known[prefix.strip()] = reason.strip()
    return known


def pytest_configure(config: pytest.Config) -> None:
    global _out
    path = os.environ.get(LOG_ENV_VAR)
    if path and not hasattr(config, "workerinput"):  # xdist: the controller writes
        _out = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed at unconfigure


def pytest_unconfigure(config: pytest.Config) -> None:
    global _out
    if _out is not None and not hasattr(config, "workerinput"):
        _out.close()
        _out = None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Known differences travel as user properties, so xdist carries them to the controller."""
    by_prefix = known_differences(list(config.getini("serve_known_differences")))
    for item in items:
        mark = item.get_closest_marker(KNOWN)
        reason: str | None = None
        if mark is not None:
            reason = str(mark.kwargs.get("reason") or (mark.args[0] if mark.args else ""))
            if not reason.strip():
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{KNOWN} needs a reason")
        else:
            reason = next((r for p, r in by_prefix.items() if item.nodeid.startswith(p)), None)
        if reason is not None:
            item.user_properties.append((KNOWN, reason))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _out is None:
        return
    known = next((str(v) for k, v in report.user_properties if k == KNOWN), None)
    untestable = next((str(v) for k, v in report.user_properties if k == NOT_TESTABLE), None)
    record: dict[str, Any] = {
        "nodeid": report.nodeid,
        "when": report.when,
        "outcome": report.outcome,
        "xfail": hasattr(report, "wasxfail"),
        "message": _message(report),
        "known": known,
        "not_testable": untestable,
    }
    _out.write(json.dumps(record) + "\n")
    _out.flush()


def _message(report: pytest.TestReport) -> str:
    """The short reason: the failure's crash line, or the skip's reason."""
    longrepr = report.longrepr
    if longrepr is None:
        return str(getattr(report, "wasxfail", "") or "")
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    lines = str(longrepr).strip().splitlines()
    return lines[-1] if lines else ""
