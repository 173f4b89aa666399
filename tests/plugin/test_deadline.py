"""adapters/deadline.py: a start that hangs is stopped, with what it started, and says so."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from pytest_serve.adapters import AdapterError
from pytest_serve.adapters.deadline import descendants, within_deadline


def _start_a_child_that_hangs() -> subprocess.CompletedProcess[bytes]:
    """Like a hung `ray.init()`: blocks on a process it started."""
    return subprocess.run([sys.executable, "-c", "import time; time.sleep(120)"], timeout=150, check=False)


def test_a_hung_start_is_stopped_with_its_processes() -> None:
    began = time.monotonic()
    with pytest.raises(AdapterError, match=r"hung start\(\) did not finish within 1 s.*1 process\(es\).*stopped"):
        within_deadline(1.0, "hung start()", _start_a_child_that_hangs, hint=", or allow longer")
    assert time.monotonic() - began < 60, "the deadline did not end the call"
    assert not descendants(), "a process the call started is still running"


def test_a_start_within_its_deadline_returns_its_value() -> None:
    assert within_deadline(30.0, "quick start()", lambda: 42) == 42


def test_an_error_within_the_deadline_is_the_call_s_own() -> None:
    def fail() -> None:
        raise ValueError("no GCS")

    with pytest.raises(ValueError, match="no GCS"):
        within_deadline(30.0, "failing start()", fail)
