"""`pytest-serve diff`'s findings: one project's tests run on several implementations,
matched test by test, and written as text, Markdown, JSON, HTML and JUnit XML.

Two runs of a test agree when they end alike: the same outcome and, for failures and
errors, the same kind of exception (the message may differ: it often holds timings or
addresses). The first implementation is the baseline the others are compared with. A
test marked as a known difference is listed apart, with its reason, and never counts
as disagreeing; so is a test an instance could not take (a running cluster grades tests
that need other settings "not testable"): there is nothing to compare. No pytest import.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from .html_page import badge, esc, page
from .markdown import cell, split_exception

__all__ = ["Diff", "Outcome", "Run", "merge_phases"]

REASON_LIMIT = 100  # characters of a reason in a table cell
FAILED = ("failed", "error")
UNTESTABLE = "not-testable"  # the instance could not take the test: nothing to compare


@dataclass(frozen=True)
class Outcome:
    """How one test ended in one run."""

    outcome: str  # passed, failed, error, skipped, xfailed, xpassed, not-testable
    message: str = ""
    known: str | None = None  # the reason of a known, accepted difference

    @property
    def kind(self) -> str:
        """The exception's class name for a failure (`AssertionError`), else ""."""
        return split_exception(self.message)[0] if self.outcome in FAILED else ""

    def short(self) -> str:
        """Outcome and reason, for a table cell."""
        if not self.message or self.outcome in ("passed", "xpassed"):
            return self.outcome
        return f"{self.outcome}: {cell(self.message, REASON_LIMIT)}"


def merge_phases(records: list[dict[str, Any]]) -> dict[str, Outcome]:
    """Node ID → outcome, from difflog's per-phase records (setup, call, teardown): a
    failed call is `failed`, a failed setup or teardown otherwise `error`, as pytest counts."""
    phases: dict[str, dict[str, dict[str, Any]]] = {}
    for record in records:
        phases.setdefault(record["nodeid"], {})[record["when"]] = record
    merged: dict[str, Outcome] = {}
    for nodeid, by_when in phases.items():
        known = next((r.get("known") for r in by_when.values() if r.get("known")), None)
        call = by_when.get("call")
        around = [r for w, r in by_when.items() if w != "call" and r["outcome"] == "failed"]
        skipped = [r for r in by_when.values() if r["outcome"] == "skipped"]
        if call is not None and call["outcome"] == "failed":
            merged[nodeid] = Outcome("xfailed" if call.get("xfail") else "failed", call["message"], known)
        elif around:
            merged[nodeid] = Outcome("error", around[0]["message"], known)
        elif skipped:
            first = skipped[0]
            if first.get("not_testable"):
                merged[nodeid] = Outcome(UNTESTABLE, first["not_testable"], known)
            else:
                merged[nodeid] = Outcome("xfailed" if first.get("xfail") else "skipped", first["message"], known)
        elif call is not None:
            merged[nodeid] = Outcome("xpassed" if call.get("xfail") else "passed", "", known)
        else:  # no call and nothing failed: the run ended inside the test
            merged[nodeid] = Outcome("error", "the test did not finish", known)
    return merged


@dataclass
class Run:
    """One implementation's run of the selection."""

    impl: str
    exit_code: int
    outcomes: dict[str, Outcome]
    duration_s: float
    summary: str = ""  # pytest's last line

    def to_json(self) -> dict[str, Any]:
        return {
            "impl": self.impl,
            "exit_code": self.exit_code,
            "duration_s": round(self.duration_s, 2),
            "summary": self.summary,
        }


@dataclass
class Row:
    nodeid: str
    cells: list[Outcome | None]  # one per run; None: the test did not run there
    known: str | None = None
    differs_from_first: list[bool] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return any(self.differs_from_first)

    @property
    def untestable(self) -> bool:
        return any(c is not None and c.outcome == UNTESTABLE for c in self.cells)


def _disagree(a: Outcome | None, b: Outcome | None) -> bool:
    if a is None or b is None:
        return a is not b
    return a.outcome != b.outcome or a.kind != b.kind


class Diff:
    """The runs side by side; `rows` holds every test, in the first run's order."""

    def __init__(self, runs: list[Run]) -> None:
        if len(runs) < 2:
            raise ValueError("diff needs at least two implementations")
        self.runs = runs
        order = list(dict.fromkeys(n for run in runs for n in run.outcomes))
        self.rows: list[Row] = []
        for nodeid in order:
            cells = [run.outcomes.get(nodeid) for run in runs]
            known = next((c.known for c in cells if c is not None and c.known), None)
            row = Row(nodeid, cells, known)
            row.differs_from_first = [_disagree(cells[0], c) for c in cells[1:]]
            self.rows.append(row)

    @property
    def labels(self) -> list[str]:
        return [run.impl for run in self.runs]

    @property
    def differing(self) -> list[Row]:
        return [r for r in self.rows if r.differs and r.known is None and not r.untestable]

    @property
    def known(self) -> list[Row]:
        return [r for r in self.rows if r.known is not None and not r.untestable]

    @property
    def untestable(self) -> list[Row]:
        """Tests that an instance could not take (a cluster's settings): not compared."""
        return [r for r in self.rows if r.untestable]

    @property
    def agreeing(self) -> int:
        return sum(1 for r in self.rows if not r.differs and r.known is None and not r.untestable)

    @property
    def headline(self) -> str:
        names = " and ".join(self.labels) if len(self.labels) == 2 else ", ".join(self.labels)
        known = f"; {len(self.known)} known difference(s)" if self.known else ""
        known += f"; {len(self.untestable)} not testable on an instance" if self.untestable else ""
        if not self.differing:
            return f"AGREE: {names} agree on all {self.agreeing} test(s){known}"
        return f"DIFFER: {len(self.differing)} test(s) differ between {names}; {self.agreeing} agree{known}"

    # -- text and Markdown ---------------------------------------------------------------

    def _table(self, rows: list[Row], extra: str | None = None) -> list[str]:
        head = "| test | " + " | ".join(self.labels) + (f" | {extra} |" if extra else " |")
        lines = [head, "|---" * (len(self.labels) + 1 + bool(extra)) + "|"]
        for row in rows:
            cells = [c.short() if c is not None else "not run" for c in row.cells]
            tail = f" | {cell(row.known or '', REASON_LIMIT)} |" if extra else " |"
            lines.append(f"| `{row.nodeid}` | " + " | ".join(cells) + tail)
        return lines

    def to_markdown(self) -> str:
        lines = [f"# Test outcomes: {' · '.join(self.labels)}", "", f"**{self.headline}**", ""]
        lines += [
            "| implementation | exit code | pytest's summary | seconds |",
            "|---|---|---|---|",
            *(f"| {r.impl} | {r.exit_code} | {cell(r.summary, 160)} | {r.duration_s:.1f} |" for r in self.runs),
            "",
        ]
        if self.differing:
            lines += [f"## Tests that differ from {self.labels[0]}", "", *self._table(self.differing), ""]
        if self.known:
            lines += ["## Known differences (accepted, not counted)", "", *self._table(self.known, "reason"), ""]
        if self.untestable:
            lines += ["## Not testable on an instance (not compared)", "", *self._table(self.untestable), ""]
        lines.append(
            "Two runs of a test agree when they end alike: the same outcome and, for failures, the same kind of "
            "exception."
        )
        return "\n".join(lines) + "\n"

    def to_terminal(self) -> str:
        lines = [self.headline]
        width = max(len(label) for label in self.labels) + 2
        sections = (("differ", self.differing), ("known differences", self.known), ("not testable", self.untestable))
        for title, rows in sections:
            if not rows:
                continue
            lines.append(f"-- {title} --")
            for row in rows:
                lines.append(row.nodeid + (f"  [known: {row.known}]" if row.known else ""))
                for label, outcome in zip(self.labels, row.cells, strict=True):
                    lines.append(f"    {label:<{width}}{outcome.short() if outcome is not None else 'not run'}")
        return "\n".join(lines)

    # -- JSON, HTML, JUnit ----------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        def outcome(o: Outcome | None) -> dict[str, Any] | None:
            return None if o is None else {"outcome": o.outcome, "message": o.message}

        return {
            "agree": not self.differing,
            "headline": self.headline,
            "runs": [r.to_json() for r in self.runs],
            "counts": {
                "tests": len(self.rows),
                "agree": self.agreeing,
                "differ": len(self.differing),
                "known": len(self.known),
                "not_testable": len(self.untestable),
            },
            "tests": [
                {
                    "nodeid": r.nodeid,
                    "differs": r.differs and r.known is None and not r.untestable,
                    "known": r.known,
                    "outcomes": {label: outcome(o) for label, o in zip(self.labels, r.cells, strict=True)},
                }
                for r in self.rows
            ],
        }

    def to_html(self) -> str:
        title = f"Test outcomes: {' · '.join(self.labels)}"
        css = "ok" if not self.differing else "bad"
        runs = "".join(
            f"<tr><td>{esc(r.impl)}</td><td>{r.exit_code}</td><td>{esc(r.summary)}</td>"
            f'<td class="num">{r.duration_s:.1f}</td></tr>'
            for r in self.runs
        )
        parts = [
            f"<h1>{esc(title)}</h1>",
            f'<p class="status {css}">{esc(self.headline)}</p>',
            "<table><tr><th>implementation</th><th>exit code</th><th>pytest's summary</th><th>seconds</th></tr>"
            f"{runs}</table>",
        ]
        for section, rows, known in (
            (f"Tests that differ from {self.labels[0]}", self.differing, False),
            ("Known differences (accepted, not counted)", self.known, True),
            ("Not testable on an instance (not compared)", self.untestable, False),
        ):
            if not rows:
                continue
            heads = "".join(f"<th>{esc(label)}</th>" for label in self.labels) + ("<th>reason</th>" if known else "")
            parts += [f"<h2>{esc(section)}</h2>", f"<table><tr><th>test</th>{heads}</tr>"]
            for row in rows:
                cells = "".join(_html_cell(c) for c in row.cells)
                reason = f"<td>{esc(row.known)}</td>" if known else ""
                parts.append(f'<tr><td class="mono">{esc(row.nodeid)}</td>{cells}{reason}</tr>')
            parts.append("</table>")
        parts.append(
            '<p class="note">Two runs of a test agree when they end alike: the same outcome and, for failures, '
            "the same kind of exception.</p>"
        )
        return page(title, "\n".join(parts))

    def to_junit(self) -> str:
        """One test case per test; a difference is a failure naming both outcomes."""
        suite = ET.Element(
            "testsuite",
            name="pytest-serve diff " + " vs ".join(self.labels),
            tests=str(len(self.rows)),
            failures=str(len(self.differing)),
            skipped=str(len(self.known) + len(self.untestable)),
        )
        for row in self.rows:
            path, _, name = row.nodeid.rpartition("::")
            case = ET.SubElement(suite, "testcase", classname=path.replace("/", ".").removesuffix(".py"), name=name)
            said = "; ".join(
                f"{label}: {o.short() if o is not None else 'not run'}"
                for label, o in zip(self.labels, row.cells, strict=True)
            )
            if row.untestable:
                ET.SubElement(case, "skipped", message=f"not testable on an instance: {said}").text = said
            elif row.known is not None:
                ET.SubElement(case, "skipped", message=f"known difference: {row.known}").text = said
            elif row.differs:
                ET.SubElement(case, "failure", message=f"outcomes differ: {said}").text = said
        return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _html_cell(outcome: Outcome | None) -> str:
    if outcome is None:
        return "<td>not run</td>"
    message = f'<div class="message">{esc(cell(outcome.message, 400))}</div>' if outcome.message else ""
    return f"<td>{badge(outcome.outcome, 'o')}{message}</td>"


def write(diff: Diff, directory: Any) -> None:
    """diff.json, diff.md and diff.html in `directory` (a Path)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "diff.json").write_text(json.dumps(diff.to_json(), indent=2) + "\n", encoding="utf-8")
    (directory / "diff.md").write_text(diff.to_markdown(), encoding="utf-8")
    (directory / "diff.html").write_text(diff.to_html(), encoding="utf-8")
