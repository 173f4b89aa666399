"""Clause verdicts and the certification report: grade(), --serve-report, --serve-deviations, -x, -n 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.clauses import CLAUSES
from pytest_serve.reporting import model as serve_report
from pytest_serve.reporting import render_markdown
from pytest_serve.reporting.model import deviations_from, grade, untestable_reason

from .helpers import Run, output_of, read_report, verdicts

CLAUSE_TESTS = """
    import pytest

    @pytest.fixture
    def broken():
        raise RuntimeError("fixture exploded")

    @pytest.mark.clause("RET-1")
    def test_pass():
        pass

    @pytest.mark.clause("RET-2")
    def test_fail():
        assert 1 == 2, "RET-2 broke"

    @pytest.mark.clause("RET-3")
    def test_skip():
        pytest.skip("not on this platform")

    @pytest.mark.clause("PFX-1")
    def test_setup_error(broken):
        pass

    @pytest.mark.clause("CAN-1")
    def test_declared_fail():
        assert False, "acme answered 504"

    @pytest.mark.clause("CAN-2")
    def test_declared_pass():
        pass

    @pytest.mark.clause("ING-1")
    def test_ing_pass():
        pass

    @pytest.mark.clause("ING-1")
    def test_ing_skip():
        pytest.skip("half of ING-1 needs port 8000")
"""

DEVIATIONS = """
    CAN-1: acme answers 504 on timeout
    CAN-2: acme may not cancel
"""

EXPECTED_VERDICTS = {
    "RET-1": "pass",
    "RET-2": "fail",
    "RET-3": "skipped",
    "PFX-1": "error",
    "CAN-1": "deviation",
    "CAN-2": "pass",
    "ING-1": "pass",
}


def _outcome(outcome: str, message: str = "") -> serve_report.TestOutcome:
    # NOTE: used through its module: a `TestOutcome` name here would be collected as a test class.
    return serve_report.TestOutcome("test_x.py::test_x", outcome, 0.1, message)


@pytest.mark.parametrize(
    ("outcomes", "deviation", "expected"),
    [
        pytest.param([], None, ("untested", "no test of this clause ran"), id="untested"),
        pytest.param(["passed", "passed"], None, ("pass", ""), id="pass"),
        pytest.param(["passed", "skipped"], None, ("pass", ""), id="pass-with-a-skip"),
        pytest.param(["passed", "failed"], None, ("fail", ""), id="fail"),
        pytest.param(["failed"], "why", ("deviation", "declared: why"), id="deviation"),
        pytest.param(["failed", "error"], None, ("error", ""), id="error-beats-fail"),
        pytest.param(["error"], "why", ("error", ""), id="error-beats-deviation"),
        pytest.param(["passed"], "why", ("pass", "declared deviation not needed (why)"), id="deviation-not-needed"),
    ],
)
def test_grade(outcomes: list[str], deviation: str | None, expected: tuple[str, str]) -> None:
    """grade() turns a clause's test outcomes and declared deviation into (verdict, note)."""
    assert grade([_outcome(o) for o in outcomes], deviation) == expected


def test_grade_all_skipped_keeps_first_reason() -> None:
    """A clause whose tests were all skipped is 'skipped', noted with the first skip reason."""
    tests = [_outcome("skipped", "needs Ray"), _outcome("skipped", "needs Linux")]
    assert grade(tests, None) == ("skipped", "needs Ray")


def test_untestable_reason_is_every_reason_in_test_id_order() -> None:
    """Parallel workers finish in any order: the reason lists each distinct one by test ID."""
    tests = [
        serve_report.TestOutcome("t.py::test_b", "not-testable", 0.1, "config file"),
        serve_report.TestOutcome("t.py::test_c", "passed", 0.1),
        serve_report.TestOutcome("t.py::test_a", "not-testable", 0.1, "env var"),
        serve_report.TestOutcome("t.py::test_d", "not-testable", 0.1, "config file"),
    ]
    assert untestable_reason(tests) == "env var; config file"
    assert untestable_reason(list(reversed(tests))) == "env var; config file"
    assert grade(tests, None) == (
        "not-testable",
        "not testable on this instance: env var; config file (1 other test(s) of the clause passed)",
    )
    assert untestable_reason(tests[1:2]) is None


def test_deviations_from_rejects_unknown_ids_and_empty_reasons() -> None:
    """deviations_from() names unknown clause IDs and clauses without a reason."""
    assert deviations_from({"CAN-1": "504"}, CLAUSES) == {"CAN-1": "504"}
    with pytest.raises(ValueError, match=r"unknown clause ID\(s\) \['NOPE-9'\]"):
        deviations_from({"NOPE-9": "x", "CAN-1": "504"}, CLAUSES)
    with pytest.raises(ValueError, match=r"need a reason .* for \['CAN-1'\]"):
        deviations_from({"CAN-1": " "}, CLAUSES)


@pytest.fixture
def graded(pytester: pytest.Pytester, run_inprocess: Run) -> tuple[pytest.RunResult, Path]:
    """Function scope · (RunResult, report dir) · CLAUSE_TESTS run with --serve-report and --serve-deviations."""
    pytester.makepyfile(CLAUSE_TESTS)
    deviations = pytester.makefile(".yaml", deviations=DEVIATIONS)
    report_dir = pytester.path / "report"
    result = run_inprocess(f"--serve-report={report_dir}", f"--serve-deviations={deviations}")
    return result, report_dir


def _report(verdicts: dict[tuple[str, str], str]) -> serve_report.Report:
    """A report with one documented clause per (tier, verdict) key."""
    clauses = [
        serve_report.ClauseResult(f"X-{i}", "documented", "X", "text", verdict, tier=tier)
        for i, ((tier, _), verdict) in enumerate(verdicts.items())
    ]
    return serve_report.Report("0", "hash", {"name": "x"}, {}, "now", 0.0, clauses)


@pytest.mark.parametrize(
    ("api_verdicts", "expected", "certified"),
    [
        (["pass", "deviation"], "PASSED", True),
        (["pass", "not-testable"], "PASSED AS CONFIGURED", True),
        (["pass", "fail"], "FAILED", False),
        (["pass", "untested"], "INCOMPLETE", False),
        (["error", "untested"], "FAILED", False),
    ],
)
def test_both_tiers_decide_certification(api_verdicts: list[str], expected: str, certified: bool) -> None:
    """A full run is certified only when the documented clauses of both tiers pass (or are
    deviations, or not testable); the API tier's own verdict is stated too."""
    verdicts = {("guide", "g"): "pass"} | {("api", str(i)): v for i, v in enumerate(api_verdicts)}
    report = _report(verdicts)
    assert report.certified is certified and report.passed is certified
    assert report.status.startswith("CERTIFIED") is certified, report.status
    assert report.api_status == expected
    assert report.to_json()["api_status"] == expected
    assert f"**Serve API beyond the HTTP guide: {expected}**" in render_markdown(report)
    failing_guide = _report({("guide", "g"): "fail", ("api", "a"): "pass"})
    assert not failing_guide.certified and failing_guide.api_status == "PASSED"


def test_a_partial_run_fails_on_any_tier() -> None:
    """`--clause BAT` with a failing BAT clause: FAILED, whatever the guide tier says."""
    report = _report({("guide", "g"): "untested", ("api", "a"): "fail"})
    report.selection = ["X"]
    assert not report.passed and report.status.startswith("FAILED (partial run: X")


def test_one_tier_on_purpose() -> None:
    """`--tier guide` judges the guide tier alone and says so; `--tier api` the API tier."""
    guide_only = _report({("guide", "g"): "pass", ("api", "a"): "untested"})
    guide_only.tiers = ["guide"]
    assert guide_only.certified and guide_only.status == "CERTIFIED (HTTP guide tier only)"
    api_only = _report({("guide", "g"): "untested", ("api", "a"): "fail"})
    api_only.tiers = ["api"]
    assert not api_only.certified and api_only.status == "NOT CERTIFIED (Serve API beyond the HTTP guide tier only)"
    again = serve_report.Report.from_json(guide_only.to_json())
    assert again.tiers == ["guide"] and again.status == guide_only.status


def test_report_writes_json_and_markdown(graded: tuple[pytest.RunResult, Path]) -> None:
    """--serve-report=DIR writes report.json and report.md covering every clause of the catalogue."""
    result, report_dir = graded
    result.assert_outcomes(passed=3, failed=2, skipped=2, errors=1)
    report = read_report(report_dir)
    assert [c["id"] for c in report["clauses"]] == list(CLAUSES)
    assert report["certified"] is False
    assert report["implementation"]["name"] == "reference"
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Conformance report: reference ")
    # Its tests are not the suite's: a report, but never a certification.
    assert "**NOT CERTIFIED (modified suite)**" in markdown
    assert "| RET-2 |" in markdown and "| **fail** |  | AssertionError: RET-2 broke |" in markdown
    assert "## HTTP guide: recommended (beyond the guide): 3 untested" in markdown
    api_clauses = sum(1 for c in CLAUSES.values() if c.tier == "api")
    assert f"## Serve API beyond the HTTP guide: {api_clauses} untested" in markdown
    assert "**Serve API beyond the HTTP guide: NOT RUN**" in markdown
    assert report["api_status"] == "NOT RUN"


def test_report_grades_each_clause(graded: tuple[pytest.RunResult, Path]) -> None:
    """Each clause gets pass/fail/skipped/error/deviation from its tests and the declared deviations."""
    _, report_dir = graded
    report = read_report(report_dir)
    assert verdicts(report) == EXPECTED_VERDICTS
    by_id = {c["id"]: c for c in report["clauses"]}
    assert by_id["RET-2"]["tests"][0]["message"] == "AssertionError: RET-2 broke"
    assert by_id["RET-3"]["tests"][0]["message"] == "not on this platform"
    assert by_id["PFX-1"]["tests"][0]["outcome"] == "error"
    assert by_id["PFX-1"]["tests"][0]["message"] == "RuntimeError: fixture exploded"
    assert by_id["CAN-1"]["note"] == "declared: acme answers 504 on timeout"
    assert by_id["CAN-2"]["note"] == "declared deviation not needed (acme may not cancel)"
    assert [t["outcome"] for t in by_id["ING-1"]["tests"]] == ["passed", "skipped"]


def test_terminal_shows_conformance_section(graded: tuple[pytest.RunResult, Path]) -> None:
    """The terminal summary has a `pytest-serve conformance` section with one line per clause and the status."""
    result, _ = graded
    result.stdout.fnmatch_lines(
        [
            "*= pytest-serve conformance =*",
            "ING-1 * pass * 2 test(s)",
            "RET-1 * pass *",
            "RET-2 * fail * AssertionError: RET-2 broke",
            "RET-3 * skipped * not on this platform",
            "PFX-1 * error * RuntimeError: fixture exploded",
            "CAN-1 * deviation * declared: acme answers 504 on timeout",
            "CAN-2 * pass * declared deviation not needed (acme may not cancel)",
            "reference *: NOT CERTIFIED (modified suite) (documented: 3 pass, 1 fail, 1 deviation, 1 error, 1 skipped, "
            "28 untested; recommended: 3 untested)",
            "Serve API beyond the HTTP guide: NOT RUN (* untested)",
            "modified suite: 8 clause test(s) from outside the suite ran: *",
            "report written to *report/report.md, report.html and report.json",
        ]
    )


def test_deviations_naming_unknown_clause_is_usage_error(pytester: pytest.Pytester, run_inprocess: Run) -> None:
    """A deviations file naming an unknown clause ID ends the run with exit code 4 and names the ID."""
    pytester.makepyfile(CLAUSE_TESTS)
    deviations = pytester.makefile(".yaml", deviations="NOPE-9: not a clause\nCAN-1: 504\n")
    result = run_inprocess(f"--serve-deviations={deviations}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: pytest-serve: --serve-deviations *: deviations name unknown clause ID(s) *NOPE-9*"]
    )


def test_deviations_checked_before_tests_run(pytester: pytest.Pytester, run_inprocess: Run) -> None:
    """A bad deviations file stops the run before any test runs."""
    pytester.makepyfile(
        """
        import pytest
        from pathlib import Path

        @pytest.mark.clause("RET-1")
        def test_marked():
            Path(__file__).with_name("ran.txt").touch()
        """
    )
    deviations = pytester.makefile(".yaml", deviations="NOPE-9: not a clause\n")
    result = run_inprocess(f"--serve-deviations={deviations}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert not (pytester.path / "ran.txt").exists(), "the test ran before the usage error"


def test_report_with_exitfirst(pytester: pytest.Pytester, run_inprocess: Run) -> None:
    """With -x the report is still written: the failed clause 'fail', the clauses never reached 'untested'."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.clause("RET-1")
        def test_first():
            assert False, "stop here"

        @pytest.mark.clause("RET-2")
        def test_second():
            pass
        """
    )
    report_dir = pytester.path / "report"
    result = run_inprocess("-x", f"--serve-report={report_dir}")
    result.assert_outcomes(failed=1)
    assert verdicts(read_report(report_dir)) == {"RET-1": "fail"}


def test_report_under_xdist(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """With -n 2 each worker runs its own instance, and the controller writes one report with every clause."""
    pytester.makepyfile(
        """
        import os

        import pytest

        CLAUSES = ["RET-1", "RET-2", "RET-3", "PFX-1"]

        @pytest.mark.parametrize("clause", [pytest.param(c, marks=pytest.mark.clause(c)) for c in CLAUSES])
        def test_on_worker(clause, serve_instance):
            with open("workers.log", "a") as log:
                log.write(f"{os.environ['PYTEST_XDIST_WORKER']} {os.getpid()} {serve_instance.base_url}\\n")
        """
    )
    report_dir = pytester.path / "report"
    result = run_subprocess("-n", "2", f"--serve-report={report_dir}")
    result.assert_outcomes(passed=4)
    workers = {}
    for line in (pytester.path / "workers.log").read_text().splitlines():
        worker, pid, url = line.split()
        workers.setdefault(worker, set()).add((pid, url))
    assert sorted(workers) == ["gw0", "gw1"], workers
    assert all(len(instances) == 1 for instances in workers.values()), workers
    assert len(set.union(*workers.values())) == 2, "the workers shared an instance"
    assert verdicts(read_report(report_dir)) == dict.fromkeys(["RET-1", "RET-2", "RET-3", "PFX-1"], "pass")
    assert output_of(result).count("pytest-serve conformance") == 1
