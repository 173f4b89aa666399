"""The conformance suite's wall time (what one test costs is `per_test`'s).

The suite runs as `pytest --pyargs conformance` in a subprocess, serially and, when
pytest-xdist is installed, on 4 workers (most of its time is the clauses' own
waiting: keep-alive timeouts, shielded sleeps).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .tools import python_has

__all__ = ["conformance_wall_time"]

_ROOT = Path(__file__).resolve().parent.parent
_SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors|skipped|xfailed|xpassed)")


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
