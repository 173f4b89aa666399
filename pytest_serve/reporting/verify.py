"""`pytest-serve verify`: does a report come from the unmodified suite that is installed here?

The report's suite files are compared, one by one, with the installed suite (itself
checked against its `SHA256SUMS` first), its adapter's source with the installed
adapter's where it can be imported, and each clause's verdict is graded again from the
test outcomes the report lists, so a report edited by hand shows too. No pytest import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from . import integrity
from .model import Report, grade, load_report

__all__ = ["Verification", "verify_file"]


@dataclass
class Verification:
    """`verified`: the report came from the installed, unmodified suite; else `problems`
    say why not, or `cannot` says why the check could not be made here."""

    report: Report | None
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cannot: str = ""

    @property
    def verified(self) -> bool:
        return not self.cannot and not self.problems

    @property
    def verdict(self) -> str:
        if self.cannot:
            return f"CANNOT VERIFY: {self.cannot}"
        if self.problems:
            return "REJECTED: the report does not come from the unmodified suite installed here"
        assert self.report is not None
        return f"VERIFIED: the report comes from the unmodified suite; it says {self.report.status}"


def verify_file(path: str | Path, suite: integrity.InstalledSuite) -> Verification:
    """Check the report in `path` (a report.json or its folder) against the installed `suite`."""
    try:
        report = load_report(path)
    except ValueError as err:
        return Verification(None, cannot=str(err))
    result = Verification(report)
    if suite.problems:
        result.cannot = f"the installed suite is modified itself ({'; '.join(suite.problems)}); reinstall pytest-serve"
        return result
    if report.suite_version != suite.version:
        result.cannot = (
            f"the report was made with suite {report.suite_version}, the installed one is {suite.version}; "
            f"install pytest-serve {report.suite_version} to verify it"
        )
        return result
    impl = report.implementation
    result.checked.append(f"report of {impl.get('name')} {impl.get('version', '')}, made {report.started_at}")
    _check_catalogue(result, report, suite.catalogue_hash)
    _check_suite(result, report, suite.files)
    _check_adapter(result, report)
    _check_verdicts(result, report, path)
    return result


def _check_catalogue(result: Verification, report: Report, installed: str) -> None:
    if report.catalogue_hash == installed:
        result.checked.append(f"clause catalogue {installed}: as installed")
    else:
        result.problems.append(f"clause catalogue {report.catalogue_hash} is not the installed one ({installed})")


def _check_suite(result: Verification, report: Report, installed: dict[str, str]) -> None:
    record = report.integrity
    if record is None:
        result.problems.append("the report records no suite files (made before pytest-serve recorded them)")
        return
    if record.problems:
        result.problems += [f"when the report was made: {p}" for p in record.problems]
    if integrity.suite_hash(record.files) != record.suite_hash:
        result.problems.append("the report's suite hash does not match its own list of files (edited by hand?)")
    differences = integrity.check_files(record.files, installed)
    if differences:
        result.problems += [f"suite file {d} (against the installed suite)" for d in differences]
    elif record.suite_hash == integrity.suite_hash(installed):
        result.checked.append(f"suite files {record.suite_hash[:16]}: the {len(installed)} installed files, unchanged")


def _check_adapter(result: Verification, report: Report) -> None:
    record = report.integrity
    if record is None or not record.adapter.get("class"):
        return
    name = record.adapter["class"]
    module = name.rpartition(".")[0]
    try:
        here = integrity.module_hash(module)
    except ImportError:
        result.checked.append(
            f"adapter {name}: not importable here, so not checked (sha256 {record.adapter['sha256']})"
        )
        return
    if here == record.adapter.get("sha256"):
        result.checked.append(f"adapter {name}: source as installed")
    else:
        result.problems.append(f"adapter {name}: its source differs from the installed one")


def _check_verdicts(result: Verification, report: Report, path: str | Path) -> None:
    edited = []
    for clause in report.clauses:
        verdict, _ = grade(clause.tests, clause.deviation_reason)
        if verdict != clause.verdict:
            edited.append(f"{clause.id} says {clause.verdict} but its tests say {verdict}")
    source = Path(path) / "report.json" if Path(path).is_dir() else Path(path)
    stored = json.loads(source.read_text(encoding="utf-8"))
    for key, value in (("certified", report.certified), ("status", report.status)):
        if key in stored and stored[key] != value:
            edited.append(f"its {key} is {stored[key]!r} but its clauses make it {value!r}")
    if edited:
        result.problems += [f"the report was edited: {e}" for e in edited]
    else:
        result.checked.append(f"verdicts of {len(report.clauses)} clauses: as their tests' outcomes grade them")
