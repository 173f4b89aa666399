"""The `pytest-serve certify` command, run as `python -m pytest_serve` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import conformance

from .helpers import read_report, verdicts

CLI_TIMEOUT_S = 300
HAS_RET_TESTS = (Path(conformance.__file__).parent / "test_ret.py").exists()


def certify(*args: str, cwd: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """`python -m pytest_serve certify ARGS` in `cwd`, with no pytest or pytest-serve settings from
    our env (nor a CI's step summary), plus `extra_env`."""
    unset = ("PYTEST_ADDOPTS", "PYTEST_SERVE_IMPL", "GITHUB_STEP_SUMMARY")
    env = {k: v for k, v in os.environ.items() if k not in unset} | extra_env
    return subprocess.run(
        [sys.executable, "-m", "pytest_serve", "certify", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )


@pytest.fixture(scope="module")
def certified_ret_2(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Module scope · (CompletedProcess, report dir) · `certify --clause RET-2 --report DIR
    --junitxml junit.xml`, with $GITHUB_STEP_SUMMARY at summary.md (holding one line already), run once."""
    if not HAS_RET_TESTS:
        pytest.skip("conformance/test_ret.py does not exist yet: no test checks RET-2")
    cwd = tmp_path_factory.mktemp("certify")
    (cwd / "summary.md").write_text("# an earlier step\n", encoding="utf-8")
    done = certify(
        "--clause",
        "RET-2",
        "--report",
        str(cwd / "report"),
        "--junitxml",
        "junit.xml",
        cwd=cwd,
        GITHUB_STEP_SUMMARY=str(cwd / "summary.md"),
    )
    return done, cwd / "report"


def test_certify_clause_writes_report(certified_ret_2: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """`certify --clause RET-2 --report DIR` runs RET-2's tests and writes report.json and report.md."""
    done, report_dir = certified_ret_2
    assert (report_dir / "report.md").is_file(), done.stdout + done.stderr
    assert verdicts(read_report(report_dir))["RET-2"] == "pass"


def test_certify_clause_exits_0(certified_ret_2: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """`certify --clause RET-2` exits 0 when RET-2 passes on the reference implementation."""
    done, _ = certified_ret_2
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_certify_appends_the_summary_for_github(
    certified_ret_2: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """With $GITHUB_STEP_SUMMARY set, certify appends report.md to that file, after what was there."""
    _, report_dir = certified_ret_2
    summary = (report_dir.parent / "summary.md").read_text(encoding="utf-8")
    assert summary == "# an earlier step\n" + (report_dir / "report.md").read_text(encoding="utf-8") + "\n"


def test_certify_junitxml_carries_clause_ids(certified_ret_2: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """`certify --junitxml FILE` (relative to where certify runs) writes JUnit XML whose test
    cases carry their clause IDs as `serve_clause` properties."""
    _, report_dir = certified_ret_2
    root = ET.parse(report_dir.parent / "junit.xml").getroot()
    clauses = {
        case.get("name"): sorted(p.get("value") or "" for p in case.iter("property") if p.get("name") == "serve_clause")
        for case in root.iter("testcase")
    }
    assert clauses["test_ret_2_query_params_become_json_object"] == ["RET-2"]
    assert clauses["test_ex01_counter_returns_query_params"] == ["ING-2", "RET-2"]


def test_certify_bad_impl_exits_2(tmp_path: Path) -> None:
    """`certify --impl nonsense` exits 2 with one line naming the problem, and writes no report."""
    done = certify("--impl", "nonsense", "--report", str(tmp_path / "report"), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "Cannot import Serve implementation module 'nonsense'" in errors[0], errors
    assert not (tmp_path / "report").exists()


def test_certify_workers_run_the_suite_in_parallel(tmp_path: Path) -> None:
    """`certify --workers 2` runs in two xdist processes; the report names tests without xdist's `@group`."""
    done = certify(
        "--clause", "KA-3", "--clause", "RET-2", "--workers", "2", "--report", str(tmp_path / "r"), cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "bringing up nodes" in done.stdout, done.stdout[-2000:]  # pytest-xdist's line
    assert "pytest-serve certify: reference took" in done.stdout
    report = read_report(tmp_path / "r")
    assert {"KA-3": "pass", "RET-2": "pass"}.items() <= verdicts(report).items()
    nodeids = [t["nodeid"] for c in report["clauses"] for t in c["tests"]]
    assert nodeids and not any("@" in n for n in nodeids), nodeids


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_certify_rejects_bad_workers(tmp_path: Path, value: str) -> None:
    """`--workers` takes a whole number ≥ 1 or 'auto'; anything else is a usage error (exit 2)."""
    done = certify(f"--workers={value}", "--report", str(tmp_path / "r"), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--workers: must be a whole number ≥ 1 or 'auto'" in done.stderr, done.stderr
    assert not (tmp_path / "r").exists()


SELFTEST = Path(__file__).resolve().parent.parent / "selftest"


def test_certify_exits_1_for_a_failing_second_tier_clause(tmp_path: Path) -> None:
    """A Serve-API clause that fails (the batcher broken by the selftest's fault) fails the
    run: exit code 1 and FAILED, although every HTTP-guide clause in it passes; with
    `--tier guide` the same implementation is certified on that tier on purpose."""
    pythonpath = os.pathsep.join(filter(None, [str(SELFTEST), os.environ.get("PYTHONPATH")]))
    env = {"PYTEST_SERVE_FAULT": "batches-of-one", "PYTHONPATH": pythonpath}
    done = certify(
        "--impl", "faulty:FaultyReference", "--clause", "BAT-1", "--clause", "RET-2", "-n", "1", cwd=tmp_path, **env
    )
    report = read_report(tmp_path / "serve-report" / "faulty_FaultyReference")
    assert verdicts(report)["BAT-1"] == "fail" and verdicts(report)["RET-2"] == "pass", verdicts(report)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert report["status"].startswith("FAILED (partial run: BAT-1, RET-2"), report["status"]
    only_guide = certify(
        "--impl",
        "faulty:FaultyReference",
        "--clause",
        "BAT-1",
        "--clause",
        "RET-2",
        "--tier",
        "guide",
        "-n",
        "1",
        cwd=tmp_path,
        **env,
    )
    assert only_guide.returncode == 0, only_guide.stdout[-2000:] + only_guide.stderr[-2000:]
    guide_report = read_report(tmp_path / "serve-report" / "faulty_FaultyReference")
    assert "BAT-1" not in {c for c, v in verdicts(guide_report).items() if v != "untested"}
    assert "HTTP guide tier only" in guide_report["status"], guide_report["status"]
