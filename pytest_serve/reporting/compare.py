"""`pytest-serve compare`: certification reports side by side, clause by implementation.

Each cell holds the clause's verdict and headline figure (for a failure without one, the
start of its reason). The first report is the
baseline: a verdict unlike its verdict, or a figure at least twice or at most half its
figure (and apart by more than timer noise), is marked, in Markdown and in HTML alike.
A clause graded not-testable in a report has no verdict there to compare, neither pass
nor fail: it is listed on its own and not marked as differing. No pytest import.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..observe import Figure
from .html_page import badge, esc, page
from .markdown import SECTIONS, cell, split_exception
from .model import ClauseResult, Report

__all__ = ["Comparison", "figures_differ"]

#: How far apart two figures must be to count as different: a factor, and at least this
#: much in the unit's own terms (two sub-millisecond latencies differ by noise alone).
FACTOR = 2.0
MIN_APART = {"s": 0.05}
UNTESTABLE = "not-testable"
CAUSE_LIMIT = 90  # characters of a failure's reason in a cell


def figures_differ(a: Figure | None, b: Figure | None) -> bool:
    """Whether two headline figures of one clause tell different stories."""
    if a is None or b is None:
        return False
    if a.name != b.name:
        return True
    x, y = a.number, b.number
    if x is None or y is None:  # text on either side: different texts differ
        return a.text() != b.text()
    if a.unit != b.unit:
        return True
    low, high = sorted((abs(x), abs(y)))
    return high - low >= MIN_APART.get(a.unit, 0.0) and (low == 0 or high / low >= FACTOR)


@dataclass
class _Row:
    clause: ClauseResult  # as the first report that has it states it
    cells: list[ClauseResult | None]

    def untestable(self, index: int) -> bool:
        cell = self.cells[index]
        return cell is not None and cell.verdict == UNTESTABLE

    def verdict_differs(self, index: int) -> bool:
        if index == 0 or self.untestable(0) or self.untestable(index):
            return False
        base, other = self.cells[0], self.cells[index]
        return base is None or other is None or base.verdict != other.verdict

    def figure_differs(self, index: int) -> bool:
        base, other = self.cells[0], self.cells[index]
        return index > 0 and base is not None and other is not None and figures_differ(base.figure, other.figure)

    @property
    def differs(self) -> bool:
        return any(self.verdict_differs(i) or self.figure_differs(i) for i in range(1, len(self.cells)))


class Comparison:
    """Reports side by side; the first is the baseline the others are marked against."""

    def __init__(self, reports: list[Report]) -> None:
        if len(reports) < 2:
            raise ValueError("compare needs at least two reports")
        self.reports = reports
        self.labels = _labels(reports)
        order: dict[str, ClauseResult] = {}
        for report in reports:
            for clause in report.clauses:
                order.setdefault(clause.id, clause)
        by_report = [{c.id: c for c in r.clauses} for r in reports]
        self.rows = [_Row(clause, [clauses.get(cid) for clauses in by_report]) for cid, clause in order.items()]

    def _sections(self) -> list[tuple[str, list[_Row]]]:
        sections = []
        for tier, level, title in SECTIONS:
            rows = [r for r in self.rows if r.clause.tier == tier and r.clause.level == level]
            if rows:
                sections.append((title, rows))
        return sections

    def summary(self) -> list[str]:
        """One sentence each: which clauses differ in verdict, which in figure."""
        verdicts = [r.clause.id for r in self.rows if any(r.verdict_differs(i) for i in range(1, len(r.cells)))]
        figures = [r.clause.id for r in self.rows if any(r.figure_differs(i) for i in range(1, len(r.cells)))]
        base = self.labels[0]
        lines = [
            f"Verdicts unlike {base}'s: {', '.join(verdicts) if verdicts else 'none'}.",
            f"Figures {FACTOR:g}× or more apart from {base}'s: {', '.join(figures) if figures else 'none'}.",
        ]
        for index, label in enumerate(self.labels):
            untestable = [r.clause.id for r in self.rows if r.untestable(index)]
            if untestable:
                lines.append(f"Not testable on {label} (no verdict to compare): {', '.join(untestable)}.")
        return lines

    def to_markdown(self) -> str:
        header = "| | " + " | ".join(self.labels) + " |"
        rule = "|---" * (len(self.labels) + 1) + "|"
        lines = [
            f"# Conformance comparison: {' · '.join(self.labels)}",
            "",
            f"Verdict and headline figure per clause. Marked against the first column ({self.labels[0]}): "
            f"**bold** verdicts differ from it, ≠ figures are {FACTOR:g}× or more apart from its figure; "
            "rows with either start with ≠.",
            "",
            *self.summary(),
            "",
            header,
            rule,
            "| Status | " + " | ".join(f"**{r.status}**" for r in self.reports) + " |",
            "| Serve API beyond the HTTP guide | " + " | ".join(r.api_status for r in self.reports) + " |",
            "| Suite | " + " | ".join(_suite(r) for r in self.reports) + " |",
            "",
        ]
        for title, rows in self._sections():
            lines += [f"## {title}", "", "| Clause | " + " | ".join(self.labels) + " |", rule]
            for row in rows:
                mark = "≠ " if row.differs else ""
                cells = [self._md_cell(row, i) for i in range(len(row.cells))]
                lines.append(f"| {mark}{row.clause.id} | " + " | ".join(cells) + " |")
            lines.append("")
        return "\n".join(lines)

    def _md_cell(self, row: _Row, index: int) -> str:
        clause = row.cells[index]
        if clause is None:
            return "—"
        verdict = f"**{clause.verdict}**" if row.verdict_differs(index) else clause.verdict
        figure = clause.figure
        if figure is None:
            cause = _cause(clause)
            return f"{verdict}: {cause}" if cause else verdict
        text = cell(figure.text(), 120)
        return f"{verdict}: ≠ {text}" if row.figure_differs(index) else f"{verdict}: {text}"

    def to_html(self) -> str:
        title = f"Conformance comparison: {' · '.join(self.labels)}"
        heads = "".join(f"<th>{esc(label)}</th>" for label in self.labels)
        status = "".join(f"<td><b>{esc(r.status)}</b></td>" for r in self.reports)
        api = "".join(f"<td>{esc(r.api_status)}</td>" for r in self.reports)
        suite = "".join(f"<td>{esc(_suite(r).replace('`', ''))}</td>" for r in self.reports)
        parts = [
            f"<h1>{esc(title)}</h1>",
            f'<p class="note">Verdict and headline figure per clause. Marked against the first column '
            f"({esc(self.labels[0])}): highlighted cells differ from it in verdict, or in a figure "
            f"{FACTOR:g}× or more apart.</p>",
            *(f"<p>{esc(line)}</p>" for line in self.summary()),
            f"<table><tr><th></th>{heads}</tr><tr><th>Status</th>{status}</tr>"
            f"<tr><th>Serve API beyond the HTTP guide</th>{api}</tr><tr><th>Suite</th>{suite}</tr></table>",
        ]
        for section, rows in self._sections():
            parts += [f"<h2>{esc(section)}</h2>", f"<table><tr><th>Clause</th>{heads}<th>Promise</th></tr>"]
            for row in rows:
                cells = "".join(self._html_cell(row, i) for i in range(len(row.cells)))
                parts.append(
                    f'<tr><td class="cid">{esc(row.clause.id)}</td>{cells}'
                    f'<td class="promise">{esc(cell(row.clause.text, 160))}</td></tr>'
                )
            parts.append("</table>")
        return page(title, "\n".join(parts))

    def _html_cell(self, row: _Row, index: int) -> str:
        clause = row.cells[index]
        if clause is None:
            return "<td>—</td>"
        marked = row.verdict_differs(index) or row.figure_differs(index)
        figure = clause.figure
        said = figure.text() if figure else _cause(clause)
        shown = f'<br><span class="figure">{esc(said)}</span>' if said else ""
        css = ' class="differs"' if marked else ""
        return f"<td{css}>{badge(clause.verdict)}{shown}</td>"


def _cause(clause: ClauseResult) -> str:
    """Why a clause failed, short: its first failure's first line, the exception's class
    without its module (`NoHTTPError: ...`), so that a column of failures says what each is."""
    if clause.verdict not in ("fail", "error"):
        return ""
    reasons = [t.message.strip() for t in clause.tests if t.outcome in ("failed", "error") and t.message.strip()]
    if not reasons:
        return ""
    first = reasons[0].splitlines()[0]
    kind, rest = split_exception(first)
    return cell(f"{kind}: {rest}" if kind else first, CAUSE_LIMIT)


def _labels(reports: list[Report]) -> list[str]:
    """`name version` per report, numbered where two would read alike."""
    labels = []
    for report in reports:
        impl = report.implementation
        label = f"{impl.get('name', '?')} {impl.get('version', '')}".strip()
        candidate, n = label, 2
        while candidate in labels:
            candidate, n = f"{label} ({n})", n + 1
        labels.append(candidate)
    return labels


def _suite(report: Report) -> str:
    integrity = report.integrity
    if integrity is None:
        state = "files not recorded"
    elif integrity.modified:
        state = "modified"
    else:
        state = "unmodified"
    files = f" `{integrity.suite_hash[:12]}`" if integrity else ""
    return f"{report.suite_version}{files} {state}"
