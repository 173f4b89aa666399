"""Observations: `serve_observe` records figures per clause; they reach report.json, report.md,
report.html and JUnit XML, also from xdist workers."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_serve.observe import Observation, Observer, format_value, headline

from .helpers import Run, read_report

OBSERVING_TESTS = """
    import pytest

    @pytest.mark.clause("KA-1")
    def test_idle_close(serve_observe):
        serve_observe.record("idle close after", 5.013, "s", expected="5 s")

    @pytest.mark.clause("KA-5")
    @pytest.mark.parametrize("seconds", [1.004, 0.998])
    def test_twice(serve_observe, seconds):
        serve_observe.record("idle close after", seconds, "s", expected="1 s")

    @pytest.mark.clause("STR-1")
    def test_stream(serve_observe):
        serve_observe.record("arrived at", [0.0, 0.1, 0.2], "s")
        serve_observe.record("largest lag behind the generator", 0.004, "s", key=True)

    @pytest.mark.clause("CAN-2", "ING-3")
    def test_late(serve_observe):
        serve_observe.record("CancelledError after disconnect", 7.5, "s", expected="within 5 s", clause="CAN-2")
        assert 7.5 < 5, "cancelled too late"

    def test_unmarked(serve_observe):
        serve_observe.record("just a figure", 3, "calls")
"""


def _observer(*clauses: str) -> tuple[Observer, list[Observation]]:
    kept: list[Observation] = []
    return Observer(list(clauses), kept.append), kept


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (5.013, "s", "5.01 s"),
        (90.04, "s", "90.0 s"),
        (0.0123, "s", "12 ms"),
        (0.00084, "s", "0.8 ms"),
        (4, "calls", "4 calls"),
        (100.2, "% of its sleep", "100 % of its sleep"),
        ("still open after 100 s", "s", "still open after 100 s"),
        ([0.0, 0.1, 0.91], "s", "3 values, 0–910 ms"),
    ],
)
def test_values_read_as_people_write_them(value: object, unit: str, shown: str) -> None:
    """Seconds below 1 s show in ms, numbers carry their unit, series show count and range."""
    assert format_value(value, unit) == shown  # type: ignore[arg-type]


def test_record_files_against_the_tests_clauses() -> None:
    """`record` goes to the sink with the test's clauses, or the one named, and rounds floats."""
    observer, kept = _observer("CAN-2", "ING-3")
    observer.record("CancelledError after disconnect", 0.0012345678, "s")
    observer.record("only one", 1, clause="CAN-2")
    assert [(o.clauses, o.value) for o in kept] == [(["CAN-2", "ING-3"], 0.001235), (["CAN-2"], 1)]


@pytest.mark.parametrize(
    ("name", "value", "clause", "error"),
    [
        ("", 1.0, None, "name must be a non-empty phrase"),
        ("x", True, None, "value must be a number, text or numbers"),
        ("x", None, None, "value must be a number, text or numbers"),
        ("x", float("nan"), None, "value must be finite"),
        ("x", [1.0, "two"], None, "a series holds finite numbers only"),
        ("x", 1.0, "KA-1", r"this test is marked with \['CAN-2'\]; name one of those"),
    ],
)
def test_record_rejects_what_a_report_cannot_show(name: str, value: object, clause: str | None, error: str) -> None:
    """Bad observations fail the test at once, naming what is wrong."""
    observer, kept = _observer("CAN-2")
    with pytest.raises((TypeError, ValueError), match=error):
        observer.record(name, value, "s", clause=clause)  # type: ignore[arg-type]
    assert kept == []


def test_headline_is_the_key_figure_over_every_measurement() -> None:
    """The clause's headline: the `key` observation (else the first number), with the range
    of every value recorded under its name."""
    observations = [
        Observation("arrived at", [0.0, 0.1], "s", clauses=["STR-1"]),
        Observation("first to last arrival", 0.9, "s", clauses=["STR-1"]),
        Observation("largest lag", 0.004, "s", "≤ 0.4 s", ["STR-1"], key=True),
        Observation("largest lag", 0.006, "s", "≤ 0.4 s", ["STR-1"], key=True),
    ]
    figure = headline(observations)
    assert figure is not None
    assert figure.text() == "largest lag 4.0–6.0 ms (2 measurements)"
    assert figure.text(with_expected=True) == "largest lag 4.0–6.0 ms (2 measurements); expected ≤ 0.4 s"
    assert headline(observations[:2]).text() == "first to last arrival 900 ms"  # type: ignore[union-attr]
    assert headline([]) is None


@pytest.fixture
def observed(pytester: pytest.Pytester, run_inprocess: Run) -> tuple[pytest.RunResult, Path]:
    """Function scope · (RunResult, report dir) · OBSERVING_TESTS run with --serve-report."""
    pytester.makepyfile(OBSERVING_TESTS)
    report_dir = pytester.path / "report"
    return run_inprocess(f"--serve-report={report_dir}"), report_dir


def test_report_json_has_observations_per_test_and_clause(observed: tuple[pytest.RunResult, Path]) -> None:
    """report.json lists each test's observations and, per clause, those filed against it and its figure."""
    result, report_dir = observed
    result.assert_outcomes(passed=5, failed=1)
    by_id = {c["id"]: c for c in read_report(report_dir)["clauses"]}
    ka1 = by_id["KA-1"]
    assert ka1["figure"] == "idle close after 5.01 s"
    assert ka1["tests"][0]["observations"] == [
        {"name": "idle close after", "value": 5.013, "unit": "s", "expected": "5 s", "clauses": ["KA-1"], "key": False}
    ]
    assert [o["test"] for o in ka1["observations"]] == [
        "test_report_json_has_observations_per_test_and_clause.py::test_idle_close"
    ]
    assert by_id["KA-5"]["figure"] == "idle close after 1.00 s (2 measurements)"
    assert by_id["STR-1"]["figure"] == "largest lag behind the generator 4.0 ms"
    assert by_id["CAN-2"]["figure"] == "CancelledError after disconnect 7.50 s"
    assert by_id["ING-3"]["observations"] == [] and by_id["ING-3"]["figure"] == ""


def test_report_markdown_shows_figures_and_expected_on_failure(observed: tuple[pytest.RunResult, Path]) -> None:
    """report.md has a Measured column; what failed is shown with what was expected against what was observed."""
    _, report_dir = observed
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "| Clause | Promise | Verdict | Measured | Detail |" in markdown
    assert "| **pass** | idle close after 5.01 s | 1 test(s) |" in markdown
    assert (
        "| **fail** | CancelledError after disconnect 7.50 s; expected within 5 s | AssertionError: cancelled too late"
        in markdown
    )
    details = markdown.split("## What did not pass", 1)[1]
    assert "### CAN-2: fail" in details
    assert "  - observed CancelledError after disconnect 7.50 s; expected within 5 s" in details


def test_terminal_lines_carry_the_figures(observed: tuple[pytest.RunResult, Path]) -> None:
    """The conformance section shows a passing clause's figure, and a failing one's with what was expected."""
    result, _ = observed
    result.stdout.fnmatch_lines(
        [
            "CAN-2 * fail * CancelledError after disconnect 7.50 s; expected within 5 s — AssertionError: cancelled*",
            "KA-1 * pass * idle close after 5.01 s",
        ]
    )


def test_observations_come_back_from_xdist_workers_and_into_junit_xml(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """Under -n 2 the controller's report has the workers' observations, and --junitxml
    carries each test's clause IDs and observations as properties."""
    pytester.makepyfile(OBSERVING_TESTS)
    report_dir = pytester.path / "report"
    junit = pytester.path / "junit.xml"
    result = run_subprocess("-n", "2", f"--serve-report={report_dir}", f"--junitxml={junit}")
    result.assert_outcomes(passed=5, failed=1)
    by_id = {c["id"]: c for c in read_report(report_dir)["clauses"]}
    assert by_id["KA-1"]["figure"] == "idle close after 5.01 s"
    assert len(by_id["KA-5"]["observations"]) == 2
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    properties = {
        name: [(p.get("name"), p.get("value")) for p in case.iter("property")] for name, case in cases.items()
    }
    assert ("serve_clause", "CAN-2") in properties["test_late"] and ("serve_clause", "ING-3") in properties["test_late"]
    observed = [json.loads(v or "") for k, v in properties["test_idle_close"] if k == "serve_observation"]
    assert observed == [
        {"name": "idle close after", "value": 5.013, "unit": "s", "expected": "5 s", "clauses": ["KA-1"], "key": False}
    ]
    assert [k for k, _ in properties["test_unmarked"]] == ["serve_observation"]
