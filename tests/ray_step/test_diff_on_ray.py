"""`pytest-serve diff` between the reference and Ray finds what one process hides.

The project below has a test that passes on both, and one that leans on the reference's
single process: its deployment appends to a module-level list that the test then reads.
On Ray the replica is another process, so the test's list stays empty. diff must report
exactly that test, with both outcomes, and exit 1.

Run in the Ray step of CI; skipped without Ray.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reference_impl.ray_alias import real_ray_version

if real_ray_version() is None:  # `import ray` may be the reference's stand-in here
    pytest.skip("Ray is not installed", allow_module_level=True)

DIFF_TIMEOUT_S = 600.0
pytestmark = pytest.mark.timeout(DIFF_TIMEOUT_S + 60)

PROJECT = """
SEEN = []


def test_answers(serve, serve_app):
    @serve.deployment
    def hello():
        return "hello"

    assert serve_app(hello.bind()).http.get("/").text == "hello"


def test_reads_what_the_replica_saw(serve, serve_app):
    @serve.deployment
    def record(request):
        SEEN.append(request.url.path)
        return "ok"

    assert serve_app(record.bind()).http.get("/seen").text == "ok"
    assert SEEN == ["/seen"], f"the test saw {SEEN}"
"""


def test_diff_reports_the_test_that_leans_on_one_process(tmp_path: Path) -> None:
    (tmp_path / "test_project.py").write_text(PROJECT, encoding="utf-8")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    env.pop("PYTEST_ADDOPTS", None)
    command = [sys.executable, "-m", "pytest_serve", "diff", "--report", "out", "--", "-p", "no:cacheprovider"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=DIFF_TIMEOUT_S)
    assert done.returncode == 1, done.stdout + done.stderr
    data = json.loads((tmp_path / "out" / "diff.json").read_text(encoding="utf-8"))
    assert data["counts"] == {"tests": 2, "agree": 1, "differ": 1, "known": 0, "not_testable": 0}, data
    [differs] = [t for t in data["tests"] if t["differs"]]
    assert differs["nodeid"] == "test_project.py::test_reads_what_the_replica_saw"
    assert differs["outcomes"]["reference"]["outcome"] == "passed"
    assert differs["outcomes"]["ray"]["outcome"] == "failed"
    assert "the test saw []" in differs["outcomes"]["ray"]["message"]
    markdown = (tmp_path / "out" / "diff.md").read_text(encoding="utf-8")
    assert "| passed | failed: AssertionError: the test saw []" in markdown, markdown
