"""A certification report as Markdown: status, origin, one table row per clause with its
headline figure, the facts observed on the instance itself (if its adapter reports any),
then what did not pass with expected against observed."""

from __future__ import annotations

from . import instance_facts
from .model import RULE, TIER_TITLES, ClauseResult, Report, Tier

__all__ = ["SECTIONS", "cell", "origin_lines", "render_markdown", "split_exception"]

#: The report's sections: (tier, level, title).
SECTIONS: tuple[tuple[Tier, str, str], ...] = (
    ("guide", "documented", "HTTP guide: documented clauses"),
    ("guide", "recommended", "HTTP guide: recommended (beyond the guide)"),
    ("api", "documented", "Serve API beyond the HTTP guide"),
)
_NOT_PASSED = ("fail", "deviation", "error")


def cell(text: str, limit: int = 220) -> str:
    """Text for one Markdown table cell: one line, pipes escaped, at most `limit` characters."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def split_exception(line: str) -> tuple[str, str]:
    """`pkg.mod.NoHTTPError: text` → (`NoHTTPError`, `text`): the exception's class without
    its module, and the rest; ("", line) when the line does not start with a class name."""
    kind, sep, rest = line.partition(": ")
    if not sep or not kind.strip() or " " in kind.strip():
        return "", line
    return kind.strip().rpartition(".")[2], rest


def measured(clause: ClauseResult) -> str:
    """The clause's headline figure; with what was expected when it did not pass."""
    figure = clause.figure
    if figure is None:
        return ""
    return figure.text(with_expected=clause.verdict in _NOT_PASSED)


def origin_lines(report: Report) -> list[str]:
    """Where the report came from: suite, catalogue, suite files, adapter, environment."""
    impl = report.implementation
    integrity = report.integrity
    lines = [f"- Suite {report.suite_version}, clause catalogue `{report.catalogue_hash}`"]
    if integrity is None:
        lines.append("- Suite files: not recorded (a report from before pytest-serve recorded them)")
    elif integrity.modified:
        lines.append(f"- Suite files `{integrity.suite_hash[:16]}`: **{'; '.join(integrity.problems)}**")
    else:
        lines.append(f"- Suite files `{integrity.suite_hash[:16]}`: unmodified, and every selected test ran")
    source = integrity.adapter.get("sha256", "") if integrity else ""
    adapter_hash = f" (source `{source[:16]}`)" if source else ""
    lines += [
        f"- Adapter `{impl.get('adapter')}`{adapter_hash}; Python {report.environment.get('python')} on "
        f"{report.environment.get('platform')}",
        f"- Started {report.started_at}, took {report.duration_s:.1f} s",
    ]
    return lines


def _tiers(report: Report) -> str:
    return ", ".join(TIER_TITLES[t] for t in report.tiers)


def render_markdown(report: Report) -> str:
    impl = report.implementation
    lines = [
        f"# Conformance report: {impl.get('name')} {impl.get('version', '')}".rstrip(),
        "",
        f"**{report.status}** — {RULE}; tiers run: {_tiers(report)}.",
        "",
        f"**Serve API beyond the HTTP guide: {report.api_status}** — that tier's own verdict.",
        "",
        *origin_lines(report),
        "",
    ]
    for tier, level, title in SECTIONS:
        rows = [c for c in report.clauses if c.level == level and c.tier == tier]
        if not rows:
            continue
        counts = report.counts(level, tier)
        summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        lines += [
            f"## {title}: {summary}",
            "",
            "| Clause | Promise | Verdict | Measured | Detail |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {c.id} | {cell(c.text)} | **{c.verdict}** | {cell(measured(c))} | {cell(c.detail)} |" for c in rows
        ]
        lines.append("")
    lines += _instance_facts(report)
    lines += _not_passed(report)
    return "\n".join(lines)


def _instance_facts(report: Report) -> list[str]:
    """The instance's own settings and figures, and the load-balancer keep-alive check."""
    facts = report.instance_facts
    if not facts:
        return []
    lines = [
        f"## {instance_facts.TITLE}",
        "",
        "Facts about the instance as a whole, measured or read while the tests ran; they grade no clause.",
        "",
        "| Fact | Value |",
        "|---|---|",
    ]
    lines += [f"| {cell(key)} | {cell(text)} |" for key, text in instance_facts.fact_rows(facts)]
    lines.append("")
    check = instance_facts.keep_alive_check(facts)
    if check is not None:
        verdict, detail = check
        lines += [f"**Load-balancer keep-alive check: {verdict}** — {detail}", ""]
    return lines


def _not_passed(report: Report) -> list[str]:
    """Per clause that failed, deviated or errored: each test's outcome and message, and
    every figure it recorded against what the clause expects."""
    clauses = [c for c in report.clauses if c.verdict in _NOT_PASSED]
    if not clauses:
        return []
    lines = ["## What did not pass", ""]
    for clause in clauses:
        lines += [f"### {clause.id}: {clause.verdict}", "", f"> {cell(clause.text, 1000)}", ""]
        if clause.deviation_reason:
            lines += [f"Declared deviation: {clause.deviation_reason}", ""]
        for test in clause.tests:
            message = f" — {cell(test.message, 500)}" if test.message else ""
            lines.append(f"- `{test.nodeid}`: **{test.outcome}**{message}")
            for observation in test.observations:
                if clause.id in observation.clauses:
                    expected = f"; expected {observation.expected}" if observation.expected else ""
                    lines.append(f"  - observed {cell(observation.text(), 300)}{cell(expected, 300)}")
        lines.append("")
    return lines
