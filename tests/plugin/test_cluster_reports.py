"""A cluster's report in every output made from a report: not-testable clauses and the
instance's facts through JSON, Markdown, HTML, `compare` and `verify`, and the rule that
a modified suite wins over CERTIFIED AS CONFIGURED."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_serve import suite
from pytest_serve.adapters.reference import ReferenceAdapter
from pytest_serve.observe import Observation
from pytest_serve.reporting import integrity, write_report
from pytest_serve.reporting.compare import Comparison
from pytest_serve.reporting.html import render_html
from pytest_serve.reporting.markdown import render_markdown
from pytest_serve.reporting.model import ClauseResult, Report, grade, load_report
from pytest_serve.reporting.model import TestOutcome as Outcome
from pytest_serve.reporting.verify import verify_file

UNTESTABLE_REASON = "checks the default of keep_alive_timeout_s (90 in Ray); the cluster sets keep_alive_timeout_s=6"
FACTS = {
    "alive_nodes": 2,
    "serve_http_options": {"keep_alive_timeout_s": 6, "request_timeout_s": None},
    "proxy_idle_close": {"url": "http://10.0.0.5:8000", "seconds": 6.01},
    "serve_url_idle_close": {"url": "https://lb.example.com", "seconds": None, "note": "still open after 100 s"},
    "keep_alive_check": {"verdict": "risk", "detail": "the clients' URL keeps idle connections longer"},
}


def _report(untestable: tuple[str, ...], facts: dict[str, object], problems: list[str] | None = None) -> Report:
    """A full run of the installed catalogue: every clause passes (KA-2 with a figure) but
    `untestable`, recorded as made from the installed suite unless `problems` are given."""
    from conformance import __version__
    from conformance.clauses import CATALOGUE_HASH, CLAUSES

    clauses = []
    for clause in CLAUSES.values():
        nodeid = f"test_{clause.group.lower()}.py::test_{clause.id.lower().replace('-', '_')}"
        if clause.id in untestable:
            test = Outcome(nodeid, "not-testable", 0.0, UNTESTABLE_REASON)
        else:
            figures = [Observation("idle close after", 2.01, "s", "2 s", [clause.id])] if clause.id == "KA-2" else []
            test = Outcome(nodeid, "passed", 0.1, "", figures)
        verdict, note = grade([test], None)
        reason = test.message if verdict == "not-testable" else None
        clauses.append(
            ClauseResult(
                clause.id, clause.level, clause.group, clause.text, verdict, [test], None, note, clause.tier, reason
            )
        )
    files = integrity.suite_files(suite.directory())
    record = integrity.Integrity(
        integrity.suite_hash(files), files, integrity.adapter_fingerprint(ReferenceAdapter), problems or []
    )
    impl = {"name": "ray", "version": "2.60.0", "adapter": "pytest_serve.adapters.reference.ReferenceAdapter"}
    env = {"python": "3.11", "platform": "linux"}
    return Report(__version__, CATALOGUE_HASH, impl, env, "now", 1.0, clauses, [], record, dict(facts))


def test_json_round_trip_keeps_instance_facts_and_not_testable(tmp_path: Path) -> None:
    """report.json holds the instance's facts apart from the tests' observations; reading
    it back gives the same report, and a report without facts reads as having none."""
    report = _report(("KA-1",), FACTS)
    write_report(report, tmp_path / "cluster")
    data = json.loads((tmp_path / "cluster" / "report.json").read_text(encoding="utf-8"))
    assert data["instance_facts"] == FACTS
    assert data["status"] == "CERTIFIED AS CONFIGURED (1 clause(s) not testable here: KA-1)"
    ka2 = next(c for c in data["clauses"] if c["id"] == "KA-2")
    assert [o["name"] for o in ka2["observations"]] == ["idle close after"]

    again = load_report(tmp_path / "cluster")
    assert again.instance_facts == FACTS
    assert again.to_json() == report.to_json()
    ka1 = next(c for c in again.clauses if c.id == "KA-1")
    assert (ka1.verdict, ka1.untestable_reason) == ("not-testable", UNTESTABLE_REASON)

    del data["instance_facts"]  # as a report of a private instance, or from before cluster mode
    (tmp_path / "plain.json").write_text(json.dumps(data), encoding="utf-8")
    assert load_report(tmp_path / "plain.json").instance_facts == {}


def test_a_modified_suite_wins_over_certified_as_configured() -> None:
    """Not-testable clauses and every other one passing, on a modified suite: NOT
    CERTIFIED (modified suite), in a full run and in a partial one."""
    assert _report(("KA-1",), {}).certified
    modified = _report(("KA-1",), {}, ["test_ka.py is changed"])
    assert not modified.certified and modified.status == "NOT CERTIFIED (modified suite)"
    modified.selection = ["KA"]
    assert modified.status == "FAILED (modified suite; partial run: KA; not a certification; not testable here: KA-1)"


def test_markdown_and_html_show_instance_facts_and_not_testable() -> None:
    """Both outputs have an "Observed on the instance" section with each fact and the
    keep-alive check, apart from the clause rows; a not-testable clause shows its reason."""
    report = _report(("KA-1",), FACTS)
    markdown = render_markdown(report)
    facts = markdown[markdown.index("## Observed on the instance") :]
    assert "| proxy_idle_close | 6.01 s at http://10.0.0.5:8000 |" in facts
    assert "| serve_url_idle_close | still open after 100 s at https://lb.example.com |" in facts
    assert "| serve_http_options | keep_alive_timeout_s=6, request_timeout_s=None |" in facts
    assert "**Load-balancer keep-alive check: risk** — the clients' URL keeps idle connections longer" in facts
    assert "| KA-2 |" not in facts  # the clause rows come before it
    ka1 = next(line for line in markdown.splitlines() if line.startswith("| KA-1 |"))
    assert "**not-testable**" in ka1 and "keep_alive_timeout_s=6" in ka1
    assert "**CERTIFIED AS CONFIGURED (1 clause(s) not testable here: KA-1)**" in markdown

    html = render_html(report)
    assert '<p class="status warn">CERTIFIED AS CONFIGURED' in html
    assert '<span class="badge v-not-testable">not-testable</span>' in html
    assert '<span class="badge o-not-testable">not-testable</span>' in html
    assert ".v-not-testable {" in html  # styled, not a blank badge
    assert "<h2>Observed on the instance</h2>" in html
    assert "<tr><td>proxy_idle_close</td><td>6.01 s at http://10.0.0.5:8000</td></tr>" in html
    assert '<p class="status bad">Load-balancer keep-alive check: risk</p>' in html


def test_reports_without_instance_facts_have_no_such_section() -> None:
    report = _report((), {})
    assert "Observed on the instance" not in render_markdown(report)
    assert "Observed on the instance" not in render_html(report)
    assert report.status == "CERTIFIED"


def test_compare_lists_not_testable_apart_from_differences() -> None:
    """Against a baseline that passed them, not-testable clauses are no verdict: not marked
    as differing, named in a sentence of their own; a real difference is still marked."""
    baseline = _report((), {})
    baseline.implementation = {**baseline.implementation, "name": "reference", "version": "0.1.0"}
    cluster = _report(("KA-1", "CAN-1"), FACTS)
    next(c for c in cluster.clauses if c.id == "RET-1").verdict = "fail"
    comparison = Comparison([baseline, cluster])
    summary = comparison.summary()
    assert summary[0] == "Verdicts unlike reference 0.1.0's: RET-1."
    assert "Not testable on ray 2.60.0 (no verdict to compare): CAN-1, KA-1." in summary
    markdown = comparison.to_markdown()
    rows = {line.split(" | ")[0]: line for line in markdown.splitlines() if line.startswith("| ")}
    assert rows["| KA-1"] == "| KA-1 | pass | not-testable |"
    assert rows["| ≠ RET-1"] == "| ≠ RET-1 | pass | **fail** |"
    html = comparison.to_html()
    assert '<td><span class="badge v-not-testable">not-testable</span></td>' in html


def test_verify_accepts_a_certified_as_configured_report(tmp_path: Path) -> None:
    """A cluster's report of the installed suite verifies: its not-testable verdicts grade
    again as stated; edited into passes, it is rejected."""
    write_report(_report(("KA-1",), FACTS), tmp_path / "cluster")
    result = verify_file(tmp_path / "cluster", suite.installed())
    assert result.verified, result.problems or result.cannot
    assert result.verdict.endswith("it says CERTIFIED AS CONFIGURED (1 clause(s) not testable here: KA-1)")

    path = tmp_path / "cluster" / "report.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for clause in data["clauses"]:
        if clause["id"] == "KA-1":
            clause["verdict"] = "pass"
    data["status"] = "CERTIFIED"
    path.write_text(json.dumps(data), encoding="utf-8")
    edited = verify_file(path, suite.installed())
    assert not edited.verified
    assert "the report was edited: KA-1 says pass but its tests say not-testable" in edited.problems


@pytest.mark.parametrize("verdict", ["ok", "risk", "unknown"])
def test_keep_alive_check_styles(verdict: str) -> None:
    facts = {"keep_alive_check": {"verdict": verdict, "detail": "why"}}
    css = {"ok": "ok", "risk": "bad", "unknown": "warn"}[verdict]
    assert f'<p class="status {css}">Load-balancer keep-alive check: {verdict}</p>' in render_html(_report((), facts))
