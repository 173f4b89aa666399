"""Collects clause-marked test outcomes during a run and writes the certification report."""

from __future__ import annotations

import datetime as dt
import platform
import time
from pathlib import Path
from typing import Any, get_args

import pytest

from . import properties, suite
from .manager import InstanceManager
from .markers import clause_ids
from .observe import decode
from .reporting import integrity, write_report
from .reporting.model import ClauseResult, Report, TestOutcome, Tier, deviations_from, grade, untestable_reason
from .reporting.terminal import write_summary
from .xdist import COLLECTED_KEY

__all__ = ["ResultCollector"]


def _clauses_of(report: pytest.TestReport) -> list[str]:
    return [str(v) for k, v in report.user_properties if k == properties.CLAUSE]


def _plain_nodeid(nodeid: str) -> str:
    """The test's ID without the `@group` that `--dist loadgroup` appends to it."""
    at = nodeid.rfind("@")
    return nodeid[:at] if at > nodeid.rfind("]") and at > nodeid.rfind("::") else nodeid


class ResultCollector:
    """A plugin object: sees every test report (also under xdist, on the controller)."""

    def __init__(self, config: pytest.Config, manager: InstanceManager) -> None:
        self.config = config
        self.manager = manager
        self.tests: dict[str, TestOutcome] = {}
        self.by_clause: dict[str, list[str]] = {}
        # What collection found, before any deselection: the suite's clause tests (node
        # ID → clause IDs) and the clause tests from files outside the suite.
        self.collected: dict[str, list[str]] = {}
        self.outside: set[str] = set()
        self.started = time.time()
        self.report: Report | None = None
        # Read now so a bad file stops the run before any test, not after all of them.
        self.declared = self._deviations_file()

    @pytest.hookimpl(tryfirst=True)  # before -k, -m, --deselect and --clause drop any
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        folder = suite.directory()
        for item in items:
            ids = clause_ids(item)
            if not ids:
                continue
            nodeid = _plain_nodeid(item.nodeid)
            if item.path.resolve().is_relative_to(folder):
                self.collected[nodeid] = ids
            else:
                self.outside.add(nodeid)

    def add_collected(self, collected: dict[str, Any]) -> None:
        """Take what an xdist worker collected (the controller collects nothing itself)."""
        self.collected.update({str(k): [str(c) for c in v] for k, v in collected.get("suite", {}).items()})
        self.outside.update(str(n) for n in collected.get("outside", []))

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        clauses = _clauses_of(report)
        if not clauses:
            return
        nodeid = _plain_nodeid(report.nodeid)
        outcome = self.tests.get(nodeid)
        if outcome is None:
            outcome = self.tests[nodeid] = TestOutcome(nodeid, "passed")
            for clause in clauses:
                self.by_clause.setdefault(clause, []).append(nodeid)
        outcome.duration += report.duration
        observations = decode(report.user_properties)
        if len(observations) >= len(outcome.observations):  # each phase's report carries all so far
            outcome.observations = observations
        untestable = [str(v) for k, v in report.user_properties if k == properties.NOT_TESTABLE]
        if report.skipped and untestable:
            outcome.outcome = "not-testable"
            outcome.message = untestable[-1]
        elif report.skipped and outcome.outcome == "passed":
            outcome.outcome = "skipped"
            outcome.message = _skip_reason(report)
        elif report.failed:
            outcome.outcome = "failed" if report.when == "call" else "error"
            outcome.message = _failure_line(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller reports
            workeroutput[COLLECTED_KEY] = {"suite": self.collected, "outside": sorted(self.outside)}
            return
        if not self.tests:
            return  # nothing clause-marked ran
        self.report = self._build()
        directory = self.config.option.serve_report
        if directory:
            write_report(self.report, directory)

    def _deviations_file(self) -> dict[str, str]:
        path = self.config.option.serve_deviations
        if not path:
            return {}
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as err:
            raise pytest.UsageError(f"pytest-serve: cannot read --serve-deviations {path}: {err}") from None
        if not isinstance(data, dict):
            raise pytest.UsageError(f"pytest-serve: --serve-deviations {path} must map clause IDs to reasons")
        try:
            return deviations_from(data, suite.CLAUSES)
        except ValueError as err:
            raise pytest.UsageError(f"pytest-serve: --serve-deviations {path}: {err}") from None

    def _deviations(self) -> dict[str, str]:
        declared = dict(getattr(self.manager.adapter, "deviations", {}) or {})
        declared.update(self.declared)
        return declared

    def _build(self) -> Report:
        deviations = self._deviations()
        results = []
        for clause in suite.CLAUSES.values():
            tests = [self.tests[n] for n in self.by_clause.get(clause.id, [])]
            verdict, note = grade(tests, deviations.get(clause.id))
            results.append(
                ClauseResult(
                    clause.id,
                    clause.level,
                    clause.group,
                    clause.text,
                    verdict,
                    tests,
                    deviations.get(clause.id),
                    note,
                    clause.tier,
                    untestable_reason(tests),
                )
            )
        adapter = self.manager.adapter
        return Report(
            suite_version=suite.VERSION,
            catalogue_hash=suite.CATALOGUE_HASH,
            implementation={
                "name": adapter.name,
                "version": adapter.version,
                "adapter": f"{type(adapter).__module__}.{type(adapter).__qualname__}",
            },
            environment={
                "python": platform.python_version(),
                "platform": platform.platform(),
                "machine": platform.machine(),
            },
            started_at=dt.datetime.fromtimestamp(self.started, dt.timezone.utc).isoformat(timespec="seconds"),
            duration_s=time.time() - self.started,
            clauses=results,
            selection=list(self.config.option.serve_clauses),
            integrity=self._integrity(type(adapter)),
            instance_facts=dict(self.manager.instance_facts),
            tiers=self._tiers(),
        )

    def _tiers(self) -> list[Tier]:
        chosen = self.config.option.serve_tiers
        return [t for t in get_args(Tier) if not chosen or t in chosen]

    def _integrity(self, adapter_type: type) -> integrity.Integrity:
        """The suite's files against its listing, and the tests that ran against the
        suite's tests that the selection asks for."""
        here = suite.installed()
        prefixes = self.config.option.serve_clauses
        tiers = self.config.option.serve_tiers
        expected = [nodeid for nodeid, ids in self.collected.items() if suite.selects(ids, prefixes, tiers)]
        problems = here.problems + integrity.run_problems(self.tests, expected, self.outside)
        return integrity.Integrity(
            integrity.suite_hash(here.files), here.files, integrity.adapter_fingerprint(adapter_type), problems
        )

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.report is not None:
            write_summary(
                terminalreporter,
                self.report,
                whole_catalogue=not self.config.option.serve_clauses and not self.config.option.serve_tiers,
                directory=self.config.option.serve_report,
            )


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return "skipped"


def _failure_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).splitlines()[0] if crash.message else "failed"
    return str(report.longrepr).strip().splitlines()[-1] if report.longrepr else "failed"
