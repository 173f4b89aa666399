"""Reading what a pytester run printed and wrote."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Run", "output_of", "read_report", "verdicts"]

#: What the `run_subprocess`/`run_inprocess` fixtures return: `run(*args) -> RunResult`.
Run = Callable[..., pytest.RunResult]


def output_of(result: pytest.RunResult) -> str:
    """Everything a run printed, stdout then stderr."""
    return "\n".join(result.outlines + result.errlines)


def read_report(directory: Path) -> dict[str, Any]:
    """The report.json in `directory`."""
    return json.loads((directory / "report.json").read_text(encoding="utf-8"))


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    """Clause ID → verdict for the clauses a report did not grade 'untested'."""
    return {c["id"]: c["verdict"] for c in report["clauses"] if c["verdict"] != "untested"}
