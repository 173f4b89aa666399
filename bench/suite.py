"""The conformance suite's wall time, and the per-test cost of the `serve_app` fixture.

The suite runs as `pytest --pyargs conformance` in a subprocess, serially and, when
pytest-xdist is installed, on 4 workers (most of its time is the clauses' own
waiting: keep-alive timeouts, shielded sleeps). The fixture cost comes from a
generated test module whose tests only deploy a trivial app with `serve_app`; a
`conftest.py` hook records each phase's duration, and setup + call + teardown of
every test after the first (which starts the instance) is the figure.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .tools import python_has, summary_ms

__all__ = ["conformance_wall_time", "fixture_overhead"]

_ROOT = Path(__file__).resolve().parent.parent
_SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors|skipped|xfailed|xpassed)")

_TESTS = """
import pytest

_apps = {}


def _app(serve):
    if "app" not in _apps:
        @serve.deployment
        class Trivial:
            def __call__(self, request):
                return "ok"

        _apps["app"] = Trivial
    return _apps["app"]


@pytest.mark.parametrize("i", range(int(__import__("os").environ["BENCH_FIXTURE_TESTS"])))
def test_deploy(serve_app, serve, i):
    serve_app(_app(serve).bind())
"""

_CONFTEST = """
import json, os


def pytest_runtest_logreport(report):
    with open(os.environ["BENCH_FIXTURE_LOG"], "a") as f:
        f.write(json.dumps([report.nodeid, report.when, report.duration, report.outcome]) + "\\n")
"""


def _counts(output: str) -> dict[str, int]:
    tail = output.strip().splitlines()[-1] if output.strip() else ""
    return {kind: int(n) for n, kind in _SUMMARY.findall(tail)}


def conformance_wall_time(workers: int | None = None, timeout_s: float = 900) -> dict[str, Any]:
    """Wall time of `pytest --pyargs conformance` from the repository root."""
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance", "-q", "-p", "no:cacheprovider"]
    if workers:
        if not python_has(sys.executable, "xdist"):
            return {"skipped": "pytest-xdist is not installed"}
        cmd += ["-n", str(workers)]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=_ROOT, capture_output=True, text=True, timeout=timeout_s)
    wall = time.perf_counter() - started
    return {"wall_s": round(wall, 2), "workers": workers or 1, "exit": done.returncode, **_counts(done.stdout)}


def fixture_overhead(
    tests: int, python: str = sys.executable, impl: str = "reference", timeout_s: float = 600
) -> dict[str, Any]:
    """Per-test setup + call + teardown of tests that only deploy with `serve_app`."""
    with tempfile.TemporaryDirectory(prefix="bench-fixture-") as tmp:
        folder = Path(tmp)
        (folder / "test_fixture_overhead.py").write_text(_TESTS)
        (folder / "conftest.py").write_text(_CONFTEST)
        log = folder / "phases.jsonl"
        env = {**os.environ, "BENCH_FIXTURE_TESTS": str(tests + 1), "BENCH_FIXTURE_LOG": str(log)}
        if impl == "ray":
            env.setdefault("RAY_AUTH_MODE", "disabled")
        cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--serve-impl={impl}", "-p", "no:randomly"]
        started = time.perf_counter()
        done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout_s)
        wall = time.perf_counter() - started
        per_test: dict[str, dict[str, float]] = {}
        outcomes = set()
        for line in log.read_text().splitlines() if log.exists() else []:
            nodeid, when, duration, outcome = json.loads(line)
            per_test.setdefault(nodeid, {})[when] = duration
            outcomes.add(outcome)
    if done.returncode != 0:
        return {"error": f"pytest exited {done.returncode}: {done.stdout[-1500:]}{done.stderr[-1500:]}"}
    rows = list(per_test.values())[1:]  # the first test also starts the instance
    totals = [sum(r.values()) for r in rows]
    return {
        "tests": len(rows),
        "wall_s": round(wall, 2),
        "first_test_s": round(sum(next(iter(per_test.values())).values()), 4) if per_test else None,
        "deploy_ms": summary_ms([r.get("call", 0.0) for r in rows]),
        "teardown_ms": summary_ms([r.get("teardown", 0.0) for r in rows]),
        "total_ms": summary_ms(totals),
    }
