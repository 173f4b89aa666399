"""Certification reports: per-clause verdicts, what was measured, and where the report
came from; to and from JSON. The renderers (markdown.py, html.py) read this model, which
imports none of them; `write_report` in this package writes all three files. No pytest import.

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

Two tiers: "guide" (the HTTP guide's clauses) and "api" (the Serve API beyond the
guide). The verdict, and `pytest-serve certify`'s exit code, judge every documented
clause of the tiers the run covers (both, unless limited to one with `--tier`); the API
tier's own verdict is stated too. A report whose suite was modified (see integrity.py)
is never CERTIFIED.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from ..observe import Figure, Observation, headline
from .integrity import Integrity

__all__ = [
    "MODIFIED",
    "RULE",
    "TIER_TITLES",
    "VERDICTS",
    "ClauseResult",
    "Outcome",
    "Report",
    "TestOutcome",
    "Tier",
    "Verdict",
    "deviations_from",
    "grade",
    "load_report",
]

#: A clause's grade in a report.
Verdict = Literal["pass", "fail", "deviation", "error", "skipped", "untested", "not-testable"]
#: One test's outcome, as the report records it.
Outcome = Literal["passed", "failed", "error", "skipped", "not-testable"]
#: A tier of the catalogue.
Tier = Literal["guide", "api"]

VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
TIER_TITLES: dict[Tier, str] = {
    "guide": "HTTP guide",
    "api": "Serve API beyond the HTTP guide",
}
_OK: tuple[Verdict, ...] = ("pass", "deviation", "not-testable")
MODIFIED = "modified suite"
#: What the verdict means, as the reports say it.
RULE = (
    "every documented clause of the tiers run must pass, be a declared deviation or be not "
    "testable on the instance, on the unmodified suite"
)


def _literal(value: object, allowed: tuple[str, ...], what: str) -> Any:
    """`value` as one of the `allowed` strings of a Literal type, or ValueError naming it."""
    text = str(value)
    if text not in allowed:
        raise ValueError(f"{what} {text!r} is not one of {', '.join(allowed)}")
    return text


@dataclass
class TestOutcome:
    nodeid: str
    outcome: Outcome
    duration: float = 0.0
    message: str = ""
    observations: list[Observation] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TestOutcome:
        return cls(
            str(data["nodeid"]),
            _literal(data["outcome"], get_args(Outcome), "test outcome"),
            float(data.get("duration", 0.0)),
            str(data.get("message", "")),
            [Observation.from_json(o) for o in data.get("observations", [])],
        )


@dataclass
class ClauseResult:
    id: str
    level: str
    group: str
    text: str
    verdict: Verdict
    tests: list[TestOutcome] = field(default_factory=list)
    deviation_reason: str | None = None
    note: str = ""
    tier: Tier = "guide"
    untestable_reason: str | None = None

    @property
    def detail(self) -> str:
        if self.note:
            return self.note
        failed = [t for t in self.tests if t.outcome in ("failed", "error")]
        if failed:
            return failed[0].message
        return f"{len(self.tests)} test(s)"

    def observations(self) -> list[tuple[str, Observation]]:
        """(test node ID, observation) for what the clause's tests recorded against it."""
        return [(t.nodeid, o) for t in self.tests for o in t.observations if self.id in o.clauses]

    @property
    def figure(self) -> Figure | None:
        """The headline figure of the clause, if its tests measured anything."""
        return headline([o for _, o in self.observations()])

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClauseResult:
        return cls(
            str(data["id"]),
            str(data["level"]),
            str(data["group"]),
            str(data["text"]),
            _literal(data["verdict"], VERDICTS, "verdict"),
            [TestOutcome.from_json(t) for t in data.get("tests", [])],
            data.get("deviation_reason"),
            str(data.get("note", "")),
            _literal(data.get("tier", "guide"), get_args(Tier), "tier"),
            data.get("untestable_reason"),
        )


def untestable_reason(tests: list[TestOutcome]) -> str | None:
    """Why a clause's tests could not run here: every distinct reason, in test-ID order, so
    the report says the same whichever order parallel workers finished in."""
    reasons = dict.fromkeys(t.message for t in sorted(tests, key=lambda t: t.nodeid) if t.outcome == "not-testable")
    return "; ".join(reasons) if reasons else None


def grade(tests: list[TestOutcome], deviation: str | None) -> tuple[Verdict, str]:
    """(verdict, note) for one clause."""
    if not tests:
        return "untested", "no test of this clause ran"
    outcomes = {t.outcome for t in tests}
    if "error" in outcomes:
        return "error", ""
    if "failed" in outcomes:
        return ("deviation", f"declared: {deviation}") if deviation else ("fail", "")
    reason = untestable_reason(tests)
    if reason is not None:
        passed = sum(t.outcome == "passed" for t in tests)
        also = f" ({passed} other test(s) of the clause passed)" if passed else ""
        return "not-testable", f"not testable on this instance: {reason}{also}"
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
    integrity: Integrity | None = None  # None: made before reports recorded their origin
    # Facts about the instance itself (Adapter.instance_facts()), not about one test: a
    # cluster's settings, its measured idle-close times, the load-balancer check.
    instance_facts: dict[str, Any] = field(default_factory=dict)
    # The tiers the run covers (`--tier`); both unless limited to one on purpose.
    tiers: list[Tier] = field(default_factory=lambda: list(TIER_TITLES))

    def _documented(self, tier: Tier) -> list[ClauseResult]:
        return [c for c in self.clauses if c.level == "documented" and c.tier == tier]

    def _judged(self) -> list[ClauseResult]:
        """The documented clauses of the tiers the run covers: what the verdict judges."""
        return [c for tier in self.tiers for c in self._documented(tier)]

    @property
    def modified(self) -> bool:
        """The suite that ran is not the released one, or not all of the selection ran."""
        return self.integrity is not None and self.integrity.modified

    @property
    def certified(self) -> bool:
        """Every documented clause of the tiers run passes, is a declared deviation or is not
        testable on this instance (needs a full run), on the unmodified suite."""
        return not self.modified and all(c.verdict in _OK for c in self._judged())

    @property
    def passed(self) -> bool:
        """Certified; for a run limited with --clause: every documented clause that ran, in
        every tier, passed, deviated or was not testable, on the unmodified suite."""
        if not self.selection:
            return self.certified
        return not self.modified and all(c.verdict in (*_OK, "untested") for c in self._judged())

    def untestable(self) -> list[str]:
        """The documented clauses of the tiers run that are graded not-testable."""
        return [c.id for c in self._judged() if c.verdict == "not-testable"]

    @property
    def status(self) -> str:
        untestable = self.untestable()
        left_out = f"; not testable here: {', '.join(untestable)}" if untestable else ""
        only = "" if set(self.tiers) == set(TIER_TITLES) else f"{TIER_TITLES[self.tiers[0]]} tier only"
        if self.selection:
            verdict = "PASSED" if self.passed else "FAILED"
            modified = f"{MODIFIED}; " if self.modified else ""
            scope = f"; {only}" if only else ""
            return (
                f"{verdict} ({modified}partial run: {', '.join(self.selection)}{scope}; not a certification{left_out})"
            )
        if self.modified:
            return f"NOT CERTIFIED ({MODIFIED})"
        if not self.certified:
            return "NOT CERTIFIED" + (f" ({only})" if only else "")
        if untestable:
            scope = f"{only}; " if only else ""
            listed = f"{len(untestable)} clause(s) not testable here: {', '.join(untestable)}"
            return f"CERTIFIED AS CONFIGURED ({scope}{listed})"
        return "CERTIFIED" + (f" ({only})" if only else "")

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

    def counts(self, level: str | None = None, tier: Tier | None = None) -> dict[Verdict, int]:
        counts: dict[Verdict, int] = dict.fromkeys(VERDICTS, 0)
        for c in self.clauses:
            if (level is None or c.level == level) and (tier is None or c.tier == tier):
                counts[c.verdict] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for clause, entry in zip(self.clauses, data["clauses"], strict=True):
            # Derived, for readers of the JSON: what the clause's tests measured for it.
            figure = clause.figure
            entry["figure"] = figure.text() if figure else ""
            entry["observations"] = [{"test": nodeid, **o.to_json()} for nodeid, o in clause.observations()]
        data["certified"] = self.certified
        data["passed"] = self.passed
        data["status"] = self.status
        data["api_status"] = self.api_status
        data["summary"] = {
            "documented": self.counts("documented", "guide"),
            "recommended": self.counts("recommended", "guide"),
            "api": self.counts(tier="api"),
        }
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Report:
        """The report a `report.json` holds (derived fields are recomputed, not read)."""
        integrity = data.get("integrity")
        return cls(
            str(data["suite_version"]),
            str(data["catalogue_hash"]),
            {str(k): str(v) for k, v in data["implementation"].items()},
            {str(k): str(v) for k, v in data.get("environment", {}).items()},
            str(data.get("started_at", "")),
            float(data.get("duration_s", 0.0)),
            [ClauseResult.from_json(c) for c in data["clauses"]],
            [str(s) for s in data.get("selection", [])],
            Integrity.from_json(integrity) if integrity else None,
            dict(data.get("instance_facts") or {}),  # absent in reports of a private instance
            [_literal(t, get_args(Tier), "tier") for t in data.get("tiers", list(TIER_TITLES))],
        )


def load_report(path: str | Path) -> Report:
    """The report in a `report.json`, or in the `report.json` of a directory. Raises
    ValueError naming the file when it is missing or not a report."""
    source = Path(path)
    if source.is_dir():
        source = source / "report.json"
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{source}: no such file (give a report.json or the folder holding one)") from None
    except (OSError, ValueError) as err:
        raise ValueError(f"{source}: cannot read it as JSON: {err}") from None
    try:
        return Report.from_json(data)
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise ValueError(f"{source}: not a pytest-serve report ({type(err).__name__}: {err})") from None


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
