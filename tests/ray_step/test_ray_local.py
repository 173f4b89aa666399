"""`pytest-serve certify --impl ray-local`: Ray Serve's local testing mode, certified as it is.

The report must show, clause by clause, what the mode does (handle calls, in-process
deploys) and what it lacks (an HTTP proxy, `@serve.batch`, replica contexts), with the
reason in each failure. $PYTEST_SERVE_RAY_LOCAL_REPORT names where the report goes, so
that CI can compare it with the others; a temporary folder otherwise.

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

# The whole catalogue runs in about 30 s in the mode (no process starts); a test that reads
# serve.status() starts a full Ray, as it would for any user of the mode.
CERTIFY_TIMEOUT_S = 600.0
pytestmark = pytest.mark.timeout(CERTIFY_TIMEOUT_S + 60)
NO_HTTP = "no HTTP here, so this test cannot run: Ray Serve's local testing mode runs apps in the test process"


def test_certify_ray_local_reports_what_the_mode_does(tmp_path: Path) -> None:
    report_dir = Path(os.environ.get("PYTEST_SERVE_RAY_LOCAL_REPORT") or tmp_path / "report")
    args = [sys.executable, "-m", "pytest_serve", "certify", "--impl", "ray-local", "--report", str(report_dir)]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=CERTIFY_TIMEOUT_S)
    output = done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == 1, f"certify exited {done.returncode} (1: not certified):\n{output}"
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert report["implementation"]["name"] == "ray-local"
    assert report["implementation"]["version"] == real_ray_version()
    clauses = {c["id"]: c for c in report["clauses"]}

    def messages(clause: str) -> list[str]:
        return [t["message"] for t in clauses[clause]["tests"] if t["outcome"] != "passed"]

    # What the mode does: deploys in process and answers handle calls.
    for clause in ("DEP-1", "HDL-3", "HDL-4", "HDL-5"):
        assert clauses[clause]["verdict"] == "pass", (clause, messages(clause))
    # What it lacks, each failure with its reason.
    for clause in ("ING-1", "RET-1", "STR-1", "WS-1", "KA-1"):
        assert clauses[clause]["verdict"] == "fail", clause
        assert any(NO_HTTP in m for m in messages(clause)), (clause, messages(clause))
    for clause in ("BAT-1", "CTX-1"):
        assert clauses[clause]["verdict"] == "fail", clause
        assert any("get_replica_context()" in m for m in messages(clause)), (clause, messages(clause))
    assert report["passed"] is False
    assert "NOT CERTIFIED" in done.stdout
