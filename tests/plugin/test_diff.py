"""`pytest-serve diff`: a project's tests on two implementations, matched test by test.

The two implementations here are the reference and the same module driven through the
generic module adapter (`--serve-impl=reference_impl.serve`): the same behaviour, two
names, so a test that reads the name is a deliberate difference.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

DIFF_TIMEOUT_S = 120
IMPLS = ("--impl", "reference", "--impl", "reference_impl.serve")

AGREEING = """
import pytest

def test_served(serve, serve_app):
    @serve.deployment
    def hi():
        return "hi"

    assert serve_app(hi.bind()).http.get("/").text == "hi"

def test_fails_alike():
    assert 1 == 2

def test_skipped():
    pytest.skip("not here")
"""

DIFFERING = """
import pytest

def test_reads_the_name(serve_instance):
    assert serve_instance.name == "reference", f"ran on {serve_instance.name}"

@pytest.mark.serve_known_difference("the adapters are named differently")
def test_marked_known(serve_instance):
    assert serve_instance.name == "reference"

def test_known_by_ini(serve_instance):
    assert serve_instance.name == "reference"
"""


def _diff(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest_serve", "diff", *args]
    return subprocess.run(command, cwd=path, capture_output=True, text=True, timeout=DIFF_TIMEOUT_S)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_agreeing_runs_exit_0_whatever_the_outcomes(pytester: pytest.Pytester, workers: list[str]) -> None:
    pytester.makepyfile(test_agree=AGREEING)
    done = _diff(pytester.path, *IMPLS, "--", "-p", "no:cacheprovider", *workers)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "AGREE: reference and reference_impl.serve agree on all 3 test(s)" in done.stdout
    data = json.loads((pytester.path / "serve-diff" / "diff.json").read_text(encoding="utf-8"))
    outcomes = {t["nodeid"]: t["outcomes"]["reference_impl.serve"]["outcome"] for t in data["tests"]}
    assert outcomes == {
        "test_agree.py::test_served": "passed",
        "test_agree.py::test_fails_alike": "failed",
        "test_agree.py::test_skipped": "skipped",
    }


def test_a_difference_exits_1_with_both_reasons_and_known_ones_apart(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_differ=DIFFERING)
    pytester.makeini("[pytest]\nserve_known_differences =\n    test_differ.py::test_known_by_ini: named apart\n")
    junit = pytester.path / "diff.xml"
    done = _diff(pytester.path, *IMPLS, "--report", "out", "--junitxml", str(junit), "--", "-p", "no:cacheprovider")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DIFFER: 1 test(s) differ between reference and reference_impl.serve; 0 agree; 2 known" in done.stdout
    markdown = (pytester.path / "out" / "diff.md").read_text(encoding="utf-8")
    row = next(line for line in markdown.splitlines() if "test_reads_the_name" in line)
    assert "| passed | failed: AssertionError: ran on reference_impl.serve" in row, row
    assert "| the adapters are named differently |" in markdown and "| named apart |" in markdown
    assert (pytester.path / "out" / "diff.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    cases = {c.get("name"): c for c in ET.parse(junit).getroot()}
    assert cases["test_reads_the_name"].find("failure") is not None
    assert cases["test_marked_known"].find("skipped") is not None
    assert cases["test_known_by_ini"].find("skipped") is not None


def test_a_run_that_cannot_start_exits_2(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_agree=AGREEING)
    done = _diff(pytester.path, "--impl", "reference", "--impl", "no_such_serve", "--", "-p", "no:cacheprovider")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the run on no_such_serve could not start: pytest exited 4 (usage error)" in done.stderr
    assert "no_such_serve" in done.stderr.splitlines()[-1]


def test_a_known_difference_needs_a_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.serve_known_difference("")
        def test_x():
            pass
        """
    )
    done = _diff(pytester.path, *IMPLS, "--", "-p", "no:cacheprovider")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "@pytest.mark.serve_known_difference needs a reason" in done.stderr


def test_not_testable_is_not_compared_and_phases_merge_as_pytest_counts() -> None:
    """A test a cluster could not take is listed apart, not as a difference; a failed
    setup is an error and a failed call with a failed teardown is a failure."""
    from pytest_serve.reporting.diff import Diff, Run, merge_phases

    def record(nodeid: str, when: str, outcome: str, message: str = "", **extra: object) -> dict[str, object]:
        return {"nodeid": nodeid, "when": when, "outcome": outcome, "message": message, **extra}

    cluster = merge_phases(
        [
            record("t.py::test_settings", "setup", "skipped", "not testable", not_testable="needs request_timeout_s=1"),
            record("t.py::test_setup", "setup", "failed", "RuntimeError: no port"),
            record("t.py::test_both", "setup", "passed"),
            record("t.py::test_both", "call", "failed", "AssertionError: x"),
            record("t.py::test_both", "teardown", "failed", "OSError: gone"),
        ]
    )
    assert (cluster["t.py::test_settings"].outcome, cluster["t.py::test_settings"].message) == (
        "not-testable",
        "needs request_timeout_s=1",
    )
    assert cluster["t.py::test_setup"].outcome == "error"
    assert (cluster["t.py::test_both"].outcome, cluster["t.py::test_both"].kind) == ("failed", "AssertionError")
    local = merge_phases(
        [record(n, "call", "passed") for n in ("t.py::test_settings", "t.py::test_setup", "t.py::test_both")]
    )
    diff = Diff([Run("reference", 0, local, 1.0), Run("ray", 1, cluster, 2.0)])
    assert [r.nodeid for r in diff.untestable] == ["t.py::test_settings"]
    assert [r.nodeid for r in diff.differing] == ["t.py::test_setup", "t.py::test_both"]
    assert diff.headline == "DIFFER: 2 test(s) differ between reference and ray; 0 agree; 1 not testable on an instance"
    assert "## Not testable on an instance (not compared)" in diff.to_markdown()
