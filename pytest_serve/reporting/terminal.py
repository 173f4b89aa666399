"""A certification report in the terminal: one line per clause, then the verdicts.

Written through anything with pytest's `TerminalReporter` methods `section`, `write`
and `write_line`, so this module needs no pytest import.
"""

from __future__ import annotations

from typing import Any, Protocol

from . import instance_facts
from .model import MODIFIED, ClauseResult, Report, Verdict

__all__ = ["TerminalWriter", "write_summary"]

_COLORS: dict[Verdict, str] = {
    "pass": "green",
    "deviation": "yellow",
    "skipped": "yellow",
    "not-testable": "yellow",
}


class TerminalWriter(Protocol):
    def section(self, title: str, sep: str = ..., **markup: bool) -> None: ...
    def write(self, content: str, **markup: bool) -> None: ...
    def write_line(self, line: str | bytes, **markup: bool) -> None: ...


def write_summary(tr: TerminalWriter, report: Report, *, whole_catalogue: bool, directory: str | None) -> None:
    """The clause table and verdicts of `report`. Clauses no test ran for are listed only
    when the whole catalogue was asked for; `directory` is where the files went, if anywhere."""
    tr.section("pytest-serve conformance")
    width = max(len(c.id) for c in report.clauses)
    for c in report.clauses:
        if c.verdict == "untested" and not whole_catalogue:
            continue
        tr.write(f"{c.id:<{width}}  ")
        tr.write(f"{c.verdict:<12}", **{_COLORS.get(c.verdict, "red"): True})
        tr.write_line(f"  {_short(_line(c))}")
    status = report.status
    tr.write_line(
        f"{report.implementation['name']} {report.implementation['version']}: {status} "
        f"(documented: {_counts(report.counts('documented', 'guide'))}; "
        f"recommended: {_counts(report.counts('recommended', 'guide'))})",
        bold=True,
        green=report.passed,
        red=not report.passed,
    )
    api = report.api_status
    if api != "NOT RUN" or whole_catalogue:
        tr.write_line(
            f"Serve API beyond the HTTP guide: {api} ({_counts(report.counts(tier='api'))})",
            bold=True,
            green=api == "PASSED",
            red=api == "FAILED",
            yellow=api in ("INCOMPLETE", "NOT RUN"),
        )
    if report.integrity is not None:
        for problem in report.integrity.problems:
            tr.write_line(f"{MODIFIED}: {problem}", red=True)
    check = instance_facts.keep_alive_check(report.instance_facts)
    if check is not None:
        verdict, detail = check
        tr.write_line(
            f"load-balancer keep-alive check: {verdict} — {detail}", green=verdict == "ok", red=verdict == "risk"
        )
    if directory:
        tr.write_line(f"report written to {directory}/report.md, report.html and report.json")


def _line(clause: ClauseResult) -> str:
    """A clause's terminal line: its figure when it passed and measured something, else
    its detail (with the figure when there is one)."""
    figure = clause.figure
    if figure is None:
        return clause.detail
    if clause.verdict == "pass" and not clause.note:
        return figure.text()
    return f"{figure.text(with_expected=clause.verdict != 'pass')} — {clause.detail}"


def _counts(counts: dict[Verdict, int] | dict[str, Any]) -> str:
    return ", ".join(f"{n} {v}" for v, n in counts.items() if n)


def _short(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
