"""Certification reports: per-clause verdicts to JSON and Markdown. No pytest import.

Verdicts, autobahn-style grades rather than booleans:
  pass       every test of the clause passed
  fail       a test failed and no deviation is declared
  deviation  a test failed and the implementation declared the departure
  error      a test could not run (setup/teardown error)
  skipped    every test was skipped
  untested   no test of the clause ran in this session
  not-testable  the instance cannot run a test of the clause as it needs (a running
             cluster whose settings are its operator's); the reason is given
A declared deviation whose tests all pass is graded `pass` and flagged. A run whose
only other grades are not-testable certifies the instance as it is configured, and
says which clauses that leaves out.

Two tiers: "guide" (the HTTP guide's clauses, which alone decide CERTIFIED) and
"api" (the Serve API beyond the guide), whose verdict is stated beside it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TIER_TITLES", "VERDICTS", "ClauseResult", "Report", "TestOutcome", "grade"]

VERDICTS = ("pass", "fail", "deviation", "error", "skipped", "untested", "not-testable")
TIER_TITLES = {
    "guide": "HTTP guide",
    "api": "Serve API beyond the HTTP guide",
}
_OK = ("pass", "deviation", "not-testable")


@dataclass
class TestOutcome:
    nodeid: str
    outcome: str  # passed | failed | error | skipped | not-testable
    duration: float = 0.0
    message: str = ""


@dataclass
class ClauseResult:
    id: str
    level: str
    group: str
    text: str
    verdict: str
    tests: list[TestOutcome] = field(default_factory=list)
    deviation_reason: str | None = None
    note: str = ""
    tier: str = "guide"
    untestable_reason: str | None = None

    @property
    def detail(self) -> str:
        if self.note:
            return self.note
        failed = [t for t in self.tests if t.outcome in ("failed", "error")]
        if failed:
            return failed[0].message
        return f"{len(self.tests)} test(s)"


def grade(tests: list[TestOutcome], deviation: str | None) -> tuple[str, str]:
    """(verdict, note) for one clause."""
    if not tests:
        return "untested", "no test of this clause ran"
    outcomes = {t.outcome for t in tests}
    if "error" in outcomes:
        return "error", ""
    if "failed" in outcomes:
        return ("deviation", f"declared: {deviation}") if deviation else ("fail", "")
    untestable = [t for t in tests if t.outcome == "not-testable"]
    if untestable:
        passed = sum(t.outcome == "passed" for t in tests)
        also = f" ({passed} other test(s) of the clause passed)" if passed else ""
        return "not-testable", f"not testable on this instance: {untestable[0].message}{also}"
    if outcomes == {"skipped"}:
        return "skipped", tests[0].message
    if deviation:
        return "pass", f"declared deviation not needed ({deviation})"
    return "pass", ""


@dataclass
class Report:
    suite_version: str
    catalogue_hash: str
    implementation: dict[str, str]
    environment: dict[str, str]
    started_at: str
    duration_s: float
    clauses: list[ClauseResult]
    selection: list[str] = field(default_factory=list)  # --clause prefixes; empty: all
    observations: dict[str, Any] = field(default_factory=dict)  # Adapter.observations()

    def _documented(self, tier: str) -> list[ClauseResult]:
        return [c for c in self.clauses if c.level == "documented" and c.tier == tier]

    @property
    def certified(self) -> bool:
        """Every documented clause of the HTTP-guide tier passes or is a declared
        deviation (needs a full run)."""
        return all(c.verdict in _OK for c in self._documented("guide"))

    @property
    def passed(self) -> bool:
        """Certified; for a run limited with --clause: every guide clause that ran passed
        or deviated."""
        if not self.selection:
            return self.certified
        return all(c.verdict in (*_OK, "untested") for c in self._documented("guide"))

    def untestable(self) -> list[str]:
        """The documented HTTP-guide clauses graded not-testable."""
        return [c.id for c in self._documented("guide") if c.verdict == "not-testable"]

    @property
    def status(self) -> str:
        untestable = self.untestable()
        left_out = f"; not testable here: {', '.join(untestable)}" if untestable else ""
        if self.selection:
            verdict = "PASSED" if self.passed else "FAILED"
            return f"{verdict} (partial run: {', '.join(self.selection)}; not a certification{left_out})"
        if not self.certified:
            return "NOT CERTIFIED"
        if untestable:
            return f"CERTIFIED AS CONFIGURED ({len(untestable)} clause(s) not testable here: {', '.join(untestable)})"
        return "CERTIFIED"

    @property
    def api_status(self) -> str:
        """The second tier's verdict: PASSED, FAILED, INCOMPLETE (some not run) or NOT RUN."""
        clauses = self._documented("api")
        verdicts = {c.verdict for c in clauses}
        if not clauses or verdicts == {"untested"}:
            return "NOT RUN"
        if verdicts - {*_OK, "untested"}:
            return "FAILED"
        if "not-testable" in verdicts:
            return "PASSED AS CONFIGURED" if "untested" not in verdicts else "INCOMPLETE"
        return "INCOMPLETE" if "untested" in verdicts else "PASSED"

    def counts(self, level: str | None = None, tier: str | None = None) -> dict[str, int]:
        counts = dict.fromkeys(VERDICTS, 0)
        for c in self.clauses:
            if (level is None or c.level == level) and (tier is None or c.tier == tier):
                counts[c.verdict] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["certified"] = self.certified
        data["passed"] = self.passed
        data["api_status"] = self.api_status
        data["summary"] = {
            "documented": self.counts("documented", "guide"),
            "recommended": self.counts("recommended", "guide"),
            "api": self.counts(tier="api"),
        }
        return data

    def write(self, directory: str | Path) -> list[Path]:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        json_path, md_path = out / "report.json", out / "report.md"
        json_path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        md_path.write_text(self.to_markdown(), encoding="utf-8")
        return [json_path, md_path]

    def to_markdown(self) -> str:
        impl = self.implementation
        status = self.status
        lines = [
            f"# Conformance report: {impl.get('name')} {impl.get('version', '')}".rstrip(),
            "",
            f"**{status}** — every documented clause of the HTTP guide must pass or be a declared deviation.",
            "",
            f"**Serve API beyond the HTTP guide: {self.api_status}** — reported beside the "
            "certification, which it does not decide.",
            "",
            f"- Suite {self.suite_version}, clause catalogue `{self.catalogue_hash}`",
            f"- Adapter `{impl.get('adapter')}`; Python {self.environment.get('python')} on "
            f"{self.environment.get('platform')}",
            f"- Started {self.started_at}, took {self.duration_s:.1f} s",
            "",
        ]
        sections = (
            ("guide", "documented", "HTTP guide: documented clauses"),
            ("guide", "recommended", "HTTP guide: recommended (beyond the guide)"),
            ("api", "documented", "Serve API beyond the HTTP guide"),
        )
        for tier, level, title in sections:
            rows = [c for c in self.clauses if c.level == level and c.tier == tier]
            if not rows:
                continue
            counts = self.counts(level, tier)
            summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
            lines += [f"## {title}: {summary}", "", "| Clause | Promise | Verdict | Detail |", "|---|---|---|---|"]
            lines += [f"| {c.id} | {_cell(c.text)} | **{c.verdict}** | {_cell(c.detail)} |" for c in rows]
            lines.append("")
        lines += _observations_markdown(self.observations)
        return "\n".join(lines)

    def table_rows(self) -> Iterable[tuple[str, str, str]]:
        for c in self.clauses:
            yield c.id, c.verdict, c.detail


def _observations_markdown(observed: Mapping[str, Any]) -> list[str]:
    """The instance's observed facts: its settings, and the idle-close figures side by side."""
    if not observed:
        return []
    lines = ["## Observed on the instance", "", "| Fact | Value |", "|---|---|"]
    for key, value in observed.items():
        if key == "keep_alive_check":
            continue
        if isinstance(value, Mapping) and "url" in value:  # an idle-close figure
            seconds = value.get("seconds")
            shown = f"{seconds} s" if seconds is not None else str(value.get("note", "not measured"))
            value = f"{shown} at {value['url']}"
        elif isinstance(value, Mapping):
            value = ", ".join(f"{k}={v!r}" for k, v in value.items())
        lines.append(f"| {key} | {_cell(str(value))} |")
    lines.append("")
    check = observed.get("keep_alive_check")
    if isinstance(check, Mapping):
        lines += [f"**Load-balancer keep-alive check: {check.get('verdict')}** — {check.get('detail')}", ""]
    return lines


def _cell(text: str, limit: int = 220) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def deviations_from(data: Mapping[str, Any], known: Iterable[str]) -> dict[str, str]:
    """Validate a deviations mapping (clause ID → reason) against the known IDs."""
    known = set(known)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"deviations name unknown clause ID(s) {unknown}")
    bad = [k for k, v in data.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        raise ValueError(f"deviations need a reason (a non-empty string) for {bad}")
    return {str(k): str(v) for k, v in data.items()}
