"""Integrity: certify notices a modified suite ("modified suite"), and `pytest-serve verify`
accepts only reports of the unmodified suite installed here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest

from pytest_serve import suite
from pytest_serve.reporting import integrity
from pytest_serve.reporting import model as serve_report
from pytest_serve.reporting.verify import verify_file

from .helpers import read_report

ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 300


def run_cli(*args: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m pytest_serve ARGS` in `cwd`; `pythonpath` first on the path (a copy of the suite)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_SERVE_IMPL", "PYTHONPATH")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-m", "pytest_serve", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )


def test_suite_listing_is_up_to_date() -> None:
    """conformance/SHA256SUMS lists exactly the suite's files as they are (else every
    certification would say "modified suite")."""
    folder = suite.directory()
    problems = integrity.check_files(integrity.suite_files(folder), integrity.read_manifest(folder))
    assert not problems, (
        f"conformance/{integrity.MANIFEST} is out of date ({'; '.join(problems)}): "
        "run `python scripts/suite_manifest.py` and commit the result"
    )


def test_every_listed_file_is_installed() -> None:
    """Each file SHA256SUMS lists is installed with the package (a module of it, or package data)."""
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["conformance"]
    listed = integrity.read_manifest(ROOT / "conformance") or {}
    left_out = [
        n for n in listed if not (n.endswith(".py") and "/" not in n) and not any(fnmatch(n, p) for p in patterns)
    ]
    assert not left_out, f"listed in SHA256SUMS but not installed as package data: {left_out}"
    assert integrity.MANIFEST in patterns


def test_check_files_names_each_difference() -> None:
    """Changed, added and missing files are each named; no listing at all is one problem."""
    listed = {"a.py": "1" * 64, "b.py": "2" * 64}
    found = {"a.py": "9" * 64, "c.py": "3" * 64}
    assert integrity.check_files(found, listed) == ["a.py is changed", "c.py was added", "b.py is missing"]
    assert integrity.check_files(listed, listed) == []
    assert integrity.check_files(found, None) == ["the suite has no SHA256SUMS: its files cannot be checked"]


@pytest.mark.parametrize(
    ("selection", "problems", "status"),
    [
        ([], [], "CERTIFIED"),
        ([], ["test_ret.py is changed"], "NOT CERTIFIED (modified suite)"),
        (["RET"], [], "PASSED (partial run: RET; not a certification)"),
        (["RET"], ["test_ret.py is changed"], "FAILED (modified suite; partial run: RET; not a certification)"),
    ],
)
def test_a_modified_suite_never_certifies(selection: list[str], problems: list[str], status: str) -> None:
    """Every clause passing is not enough: the suite must be the unmodified one."""
    clauses = [serve_report.ClauseResult("RET-2", "documented", "RET", "text", "pass")]
    record = integrity.Integrity("h" * 64, {}, {}, problems)
    report = serve_report.Report("0", "c", {"name": "x"}, {}, "now", 0.0, clauses, selection, record)
    assert report.status == status
    assert report.passed is (not problems)
    assert report.to_json()["status"] == status


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Module scope · (CompletedProcess, report dir) · `certify --clause RET-2` on the installed suite."""
    cwd = tmp_path_factory.mktemp("pristine")
    done = run_cli("certify", "--clause", "RET-2", "--workers", "1", "--report", str(cwd / "report"), cwd=cwd)
    return done, cwd / "report"


@pytest.fixture(scope="module")
def modified(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """Module scope · (CompletedProcess, report dir, copy's root) · `certify --clause RET-2` on a
    copy of the suite with test_ret.py edited, found first on PYTHONPATH."""
    root = tmp_path_factory.mktemp("modified")
    copy = root / "lib" / "conformance"
    shutil.copytree(suite.directory(), copy, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    with open(copy / "test_ret.py", "a", encoding="utf-8") as test_file:
        test_file.write("\n# A local change: any edit, even this one, makes it another suite.\n")
    done = run_cli(
        "certify",
        "--clause",
        "RET-2",
        "--workers",
        "1",
        "--report",
        str(root / "report"),
        cwd=root,
        pythonpath=copy.parent,
    )
    return done, root / "report", copy.parent


def test_certify_of_the_unmodified_suite_says_so(pristine: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """On the installed suite the report records its files, unmodified, and passes."""
    done, report_dir = pristine
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    record = read_report(report_dir)["integrity"]
    assert record["problems"] == []
    assert record["files"] == integrity.suite_files(suite.directory())
    assert record["suite_hash"] == integrity.suite_hash(record["files"])
    assert record["adapter"]["class"] == "pytest_serve.adapters.reference.ReferenceAdapter"
    assert "unmodified, and every selected test ran" in (report_dir / "report.md").read_text(encoding="utf-8")


def test_certify_of_an_edited_suite_says_modified_suite(
    modified: tuple[subprocess.CompletedProcess[str], Path, Path],
) -> None:
    """Editing one conformance test: the tests still pass, but the run fails as "modified suite"
    and names the file, on the terminal and in the report."""
    done, report_dir, _ = modified
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "modified suite: test_ret.py is changed" in done.stdout
    report = read_report(report_dir)
    assert report["integrity"]["problems"] == ["test_ret.py is changed"]
    assert report["status"] == "FAILED (modified suite; partial run: RET-2; not a certification)"
    assert {c["id"]: c["verdict"] for c in report["clauses"]}["RET-2"] == "pass"
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "**FAILED (modified suite; partial run: RET-2; not a certification)**" in markdown
    assert "**test_ret.py is changed**" in markdown


def test_verify_accepts_the_unmodified_report(
    pristine: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    """`pytest-serve verify DIR` on a report of the installed suite: exit 0, VERIFIED."""
    _, report_dir = pristine
    done = run_cli("verify", str(report_dir), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("VERIFIED: the report comes from the unmodified suite")
    assert "ok: suite files" in done.stdout and "ok: adapter pytest_serve.adapters.reference" in done.stdout


def test_verify_rejects_the_report_of_an_edited_suite(
    modified: tuple[subprocess.CompletedProcess[str], Path, Path], tmp_path: Path
) -> None:
    """`pytest-serve verify` against the installed suite rejects the edited suite's report (exit 1),
    naming the file; against the edited copy itself it cannot verify at all (exit 2)."""
    _, report_dir, copy_root = modified
    done = run_cli("verify", str(report_dir / "report.json"), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "PROBLEM: suite file test_ret.py is changed (against the installed suite)" in done.stdout
    assert "PROBLEM: when the report was made: test_ret.py is changed" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("REJECTED")
    on_copy = run_cli("verify", str(report_dir), cwd=tmp_path, pythonpath=copy_root)
    assert on_copy.returncode == 2, on_copy.stdout + on_copy.stderr
    assert "CANNOT VERIFY: the installed suite is modified itself (test_ret.py is changed)" in on_copy.stdout


def _edited(report_dir: Path, tmp_path: Path, change: str) -> Path:
    data = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    if change == "verdict":
        next(c for c in data["clauses"] if c["id"] == "RET-2")["tests"][0]["outcome"] = "failed"
    elif change == "hash":
        data["integrity"]["files"]["test_ret.py"] = "0" * 64
        data["integrity"]["suite_hash"] = integrity.suite_hash(data["integrity"]["files"])
    elif change == "version":
        data["suite_version"] = "0.0.1"
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "verified", "says"),
    [
        ("verdict", False, "the report was edited: RET-2 says pass but its tests say fail"),
        ("hash", False, "suite file test_ret.py is changed (against the installed suite)"),
        ("version", False, "the report was made with suite 0.0.1, the installed one is"),
    ],
)
def test_verify_sees_a_report_edited_by_hand(
    pristine: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path, change: str, verified: bool, says: str
) -> None:
    """A verdict that its tests' outcomes do not give, a file hash that is not the installed
    file's, or another suite version: not verified, and the reason named."""
    _, report_dir = pristine
    result = verify_file(_edited(report_dir, tmp_path, change), suite.installed())
    assert result.verified is verified
    assert any(says in line for line in [*result.problems, result.cannot]), (result.problems, result.cannot)


def test_deselected_tests_make_it_another_suite(tmp_path: Path) -> None:
    """Leaving out a test of the selection (`-k`, `--deselect`) is reported as "modified suite"."""
    done = run_cli(
        "certify",
        "--clause",
        "RET-2",
        "--workers",
        "1",
        "--report",
        str(tmp_path / "r"),
        "--",
        "-k",
        "not ex01",
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    [problem] = read_report(tmp_path / "r")["integrity"]["problems"]
    assert problem.startswith("1 test(s) of the suite did not run: test_guide.py::test_ex01_"), problem
