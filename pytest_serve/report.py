"""Certification reports: per-clause verdicts to JSON and Markdown. No pytest import.

Verdicts, autobahn-style grades rather than booleans:
  pass       every test of the clause passed
  fail       a test failed and no deviation is declared
  deviation  a test failed and the implementation declared the departure
  error      a test could not run (setup/teardown error)
  skipped    every test was skipped
  untested   no test of the clause ran in this session
A declared deviation whose tests all pass is graded `pass` and flagged.

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

VERDICTS = ("pass", "fail", "deviation", "error", "skipped", "untested")
TIER_TITLES = {
    "guide": "HTTP guide",
    "api": "Serve API beyond the HTTP guide",
}
_OK = ("pass", "deviation")


@dataclass
class TestOutcome:
    nodeid: str
    outcome: str  # passed | failed | error | skipped
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

    @property
    def status(self) -> str:
        if self.selection:
            verdict = "PASSED" if self.passed else "FAILED"
            return f"{verdict} (partial run: {', '.join(self.selection)}; not a certification)"
        return "CERTIFIED" if self.certified else "NOT CERTIFIED"

    @property
    def api_status(self) -> str:
        """The second tier's verdict: PASSED, FAILED, INCOMPLETE (some not run) or NOT RUN."""
        clauses = self._documented("api")
        verdicts = {c.verdict for c in clauses}
        if not clauses or verdicts == {"untested"}:
            return "NOT RUN"
        if verdicts - {*_OK, "untested"}:
            return "FAILED"
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
        return "\n".join(lines)

    def table_rows(self) -> Iterable[tuple[str, str, str]]:
        for c in self.clauses:
            yield c.id, c.verdict, c.detail


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
