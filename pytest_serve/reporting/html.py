"""A certification report as one self-contained HTML page: the clause table with
verdicts and headline figures, each clause opening onto its tests, what they measured
against what the clause expects, their failure messages, and a timeline of streamed
chunks where a test recorded arrival times; then the facts observed on the instance
itself, if its adapter reports any."""

from __future__ import annotations

from ..observe import Observation, format_value
from . import instance_facts
from .html_page import badge, esc, page, timeline_svg
from .markdown import SECTIONS, measured
from .model import RULE, TIER_TITLES, ClauseResult, Report, TestOutcome

__all__ = ["render_html", "status_class"]


def status_class(status: str) -> str:
    if status.startswith(("CERTIFIED AS CONFIGURED", "PASSED AS CONFIGURED")):
        return "warn"  # certified, but with clauses left out
    if status.startswith(("CERTIFIED", "PASSED")):
        return "ok"
    return "bad"


def render_html(report: Report) -> str:
    impl = report.implementation
    title = f"Conformance report: {impl.get('name')} {impl.get('version', '')}".rstrip()
    parts = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="status {status_class(report.status)}">{esc(report.status)}</p>',
        f'<p class="note">{esc(RULE[0].upper() + RULE[1:])}; tiers run: '
        f"{esc(', '.join(TIER_TITLES[t] for t in report.tiers))}.</p>",
        f'<p class="status {_api_class(report.api_status)}">Serve API beyond the HTTP guide: '
        f"{esc(report.api_status)}</p>",
        '<p class="note">That tier\'s own verdict.</p>',
        _origin(report),
    ]
    for tier, level, heading in SECTIONS:
        rows = [c for c in report.clauses if c.level == level and c.tier == tier]
        if not rows:
            continue
        counts = ", ".join(f"{n} {v}" for v, n in report.counts(level, tier).items() if n)
        parts += [
            f"<h2>{esc(heading)}: {esc(counts)}</h2>",
            '<div class="head"><span>Clause</span><span>Verdict</span><span>Measured</span><span>Promise</span></div>',
            *(_clause(c) for c in rows),
        ]
    parts.append(_instance_facts(report))
    parts.append(
        '<p class="legend">Click a clause for its tests, what they measured and how it compares with what the '
        "clause expects. Times are seconds on the test's own clock; a timeline shows when each item of a "
        "stream was produced and when it reached the client, relative to the first.</p>"
    )
    return page(title, "\n".join(parts))


def _api_class(status: str) -> str:
    return {"PASSED": "ok", "FAILED": "bad"}.get(status, "warn")


def _instance_facts(report: Report) -> str:
    """The instance's own settings and figures, and the load-balancer keep-alive check."""
    facts = report.instance_facts
    if not facts:
        return ""
    rows = "".join(f"<tr><td>{esc(key)}</td><td>{esc(text)}</td></tr>" for key, text in instance_facts.fact_rows(facts))
    parts = [
        f"<h2>{esc(instance_facts.TITLE)}</h2>",
        '<p class="note">Facts about the instance as a whole, measured or read while the tests ran; '
        "they grade no clause.</p>",
        f"<table><tr><th>Fact</th><th>Value</th></tr>{rows}</table>",
    ]
    check = instance_facts.keep_alive_check(facts)
    if check is not None:
        verdict, detail = check
        css = {"ok": "ok", "risk": "bad"}.get(verdict, "warn")
        parts.append(f'<p class="status {css}">Load-balancer keep-alive check: {esc(verdict)}</p><p>{esc(detail)}</p>')
    return "\n".join(parts)


def _origin(report: Report) -> str:
    integrity = report.integrity
    items = [f"Suite {esc(report.suite_version)}, clause catalogue <code>{esc(report.catalogue_hash)}</code>"]
    if integrity is None:
        items.append("Suite files: not recorded (a report from before pytest-serve recorded them)")
    elif integrity.modified:
        problems = "; ".join(integrity.problems)
        items.append(
            f'Suite files <code>{esc(integrity.suite_hash[:16])}</code>: <b class="message">{esc(problems)}</b>'
        )
    else:
        items.append(
            f"Suite files <code>{esc(integrity.suite_hash[:16])}</code>: unmodified, and every selected test ran"
        )
    adapter = esc(report.implementation.get("adapter", ""))
    if integrity is not None and integrity.adapter.get("sha256"):
        adapter += f" (source <code>{esc(integrity.adapter['sha256'][:16])}</code>)"
    env = report.environment
    items += [
        f"Adapter <code>{adapter}</code>; Python {esc(env.get('python', ''))} on {esc(env.get('platform', ''))}",
        f"Started {esc(report.started_at)}, took {report.duration_s:.1f} s",
    ]
    return '<ul class="origin">' + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _clause(clause: ClauseResult) -> str:
    is_open = " open" if clause.verdict in ("fail", "error", "deviation") else ""
    summary = (
        f'<summary><span class="cid">{esc(clause.id)}</span>{badge(clause.verdict)}'
        f'<span class="figure">{esc(measured(clause))}</span>'
        f'<span class="promise">{esc(clause.text)}</span></summary>'
    )
    body = []
    if clause.note:
        body.append(f'<p class="note">{esc(clause.note)}</p>')
    if clause.tests:
        body.append(_tests(clause))
    for test in clause.tests:
        own = [o for o in test.observations if clause.id in o.clauses]
        if own:
            body.append(_observations(test, own))
    return (
        f'<details class="clause" id="{esc(clause.id)}"{is_open}>{summary}'
        f'<div class="body">{"".join(body)}</div></details>'
    )


def _tests(clause: ClauseResult) -> str:
    rows = [
        f"<tr><td><code>{esc(t.nodeid)}</code></td><td>{badge(t.outcome, 'o')}</td>"
        f'<td class="num">{t.duration:.2f} s</td>'
        f'<td class="{"message" if t.outcome in ("failed", "error") else "note"}">{esc(t.message)}</td></tr>'
        for t in clause.tests
    ]
    return "<table><tr><th>Test</th><th>Outcome</th><th>Took</th><th>Message</th></tr>" + "".join(rows) + "</table>"


def _observations(test: TestOutcome, observations: list[Observation]) -> str:
    rows = [
        f'<tr><td>{esc(o.name)}</td><td class="num">{esc(format_value(o.value, o.unit))}</td>'
        f"<td>{esc(o.expected)}</td></tr>"
        for o in observations
    ]
    table = (
        f'<p class="mono">{esc(test.nodeid)}</p>'
        "<table><tr><th>Measured</th><th>Observed</th><th>Expected</th></tr>" + "".join(rows) + "</table>"
    )
    timeline = [(o.name, o.value) for o in observations if isinstance(o.value, list) and o.unit == "s"]
    return table + timeline_svg(timeline)
