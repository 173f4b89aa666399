"""Every clause's conformance tests fail on an implementation that breaks the clause.

Each fault (see faulty.py) runs the conformance tests of its clauses in a fresh
interpreter against the reference implementation with that fault injected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from faulty import ENV, load_faults

HERE = Path(__file__).parent
FAULTS = load_faults()


def run_conformance(fault: str, clauses: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "pytest", "--pyargs", "conformance", "-p", "no:cacheprovider",
            "-q", "--serve-impl=faulty:FaultyReference", "-p", "no:randomly"]
    for clause in clauses:
        args += ["--clause", clause]
    env = {**os.environ, ENV: fault, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, cwd=HERE)


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_is_caught(name: str) -> None:
    """The clause tests fail (not error, not pass) with this fault injected."""
    fault = FAULTS[name]
    result = run_conformance(name, fault.clauses)
    tail = "\n".join(result.stdout.splitlines()[-25:])
    assert result.returncode == 1, f"fault {name!r} ({fault.doc}) was not caught:\n{tail}\n{result.stderr[-2000:]}"
    for clause in fault.clauses:
        assert f"{clause}" in result.stdout, tail


def test_every_documented_clause_has_a_fault() -> None:
    """Each documented clause is shown breakable by at least one fault."""
    from conformance.clauses import CLAUSES, DOCUMENTED

    covered = {c for f in FAULTS.values() for c in f.clauses}
    missing = [cid for cid, c in CLAUSES.items() if c.level == DOCUMENTED and cid not in covered]
    assert not missing, f"no fault shows these clauses' tests can fail: {missing}"
