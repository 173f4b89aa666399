"""Every clause's conformance tests fail on an implementation that breaks the clause.

Each fault (see faulty.py) runs the conformance tests of its clauses in a fresh
interpreter against the reference implementation with that fault injected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from faulty import ENV, load_faults

HERE = Path(__file__).parent
FAULTS = load_faults()


def run_conformance(fault: str, clauses: tuple[str, ...], report: Path) -> subprocess.CompletedProcess[str]:
    """The conformance tests of `clauses`, in a fresh interpreter, with `fault` injected."""
    args = [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        "conformance",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",  # ~1 s to import, in every one of these interpreters
        "--serve-impl=faulty:FaultyReference",
        f"--serve-report={report}",
    ]
    if len(clauses) == 1:
        args.append("-x")  # one failing test is all the proof needed
    args += [f"--clause={clause}" for clause in clauses]
    pythonpath = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, ENV: fault, "PYTHONPATH": pythonpath}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, cwd=HERE)


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_is_caught(name: str, tmp_path: Path) -> None:
    """With the fault injected, every clause it targets is graded "fail" (not error, not pass)."""
    fault = FAULTS[name]
    result = run_conformance(name, fault.clauses, tmp_path)
    tail = "\n".join(result.stdout.splitlines()[-25:])
    report = tmp_path / "report.json"
    assert report.exists(), f"no report for fault {name!r}:\n{tail}\n{result.stderr[-2000:]}"
    verdicts = {c["id"]: c["verdict"] for c in json.loads(report.read_text())["clauses"]}
    graded = {clause: verdicts[clause] for clause in fault.clauses}
    if len(fault.clauses) == 1:
        assert graded == {fault.clauses[0]: "fail"}, f"fault {name!r} ({fault.doc}) was not caught:\n{tail}"
    else:
        assert set(graded.values()) == {"fail"}, (
            f"fault {name!r} ({fault.doc}) was not caught for every clause it breaks: {graded}\n{tail}"
        )


def test_every_documented_clause_has_a_fault() -> None:
    """Each documented clause is shown breakable by at least one fault."""
    from conformance.clauses import CLAUSES, DOCUMENTED

    covered = {c for f in FAULTS.values() for c in f.clauses}
    missing = [cid for cid, c in CLAUSES.items() if c.level == DOCUMENTED and cid not in covered]
    assert not missing, f"no fault shows these clauses' tests can fail: {missing}"
