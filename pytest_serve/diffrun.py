"""`pytest-serve diff`: run the user's pytest selection once per implementation, each in
a process of its own with `pytest_serve.difflog` loaded, then match the outcomes."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .difflog import LOG_ENV_VAR
from .reporting.diff import Diff, Run, merge_phases, write
from .reporting.step_summary import append_step_summary

__all__ = ["run_diff"]

DEFAULT_IMPLS = ("reference", "ray")
# pytest's exit codes for a run that says nothing about the tests: interrupted, internal
# error, usage error, nothing collected.
NOT_STARTED = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests collected"}


def run_diff(args: argparse.Namespace) -> int:
    impls = list(dict.fromkeys(args.impl or DEFAULT_IMPLS))
    if len(impls) < 2:
        print("pytest-serve diff: give two implementations or more (--impl A --impl B)", file=sys.stderr)
        return 2
    report_dir = Path(args.report or "serve-diff")
    report_dir.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    for impl in impls:
        print(f"pytest-serve diff: running the tests on {impl}", flush=True)
        run, problem = _run(impl, args, report_dir)
        if problem is not None:
            print(f"pytest-serve diff: the run on {impl} could not start: {problem}", file=sys.stderr)
            return 2
        assert run is not None
        print(f"pytest-serve diff: {impl}: {run.summary} ({run.duration_s:.1f} s)", flush=True)
        runs.append(run)
    diff = Diff(runs)
    write(diff, report_dir)
    if args.junitxml:
        Path(args.junitxml).write_text(diff.to_junit(), encoding="utf-8")
    print(diff.to_terminal())
    print(f"pytest-serve diff: wrote {report_dir / 'diff.md'}, diff.html and diff.json")
    append_step_summary(report_dir / "diff.md")
    return 1 if diff.differing else 0


def _run(impl: str, args: argparse.Namespace, report_dir: Path) -> tuple[Run | None, str | None]:
    """One run: (its outcomes, None), or (None, why it could not start)."""
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in impl)
    output = report_dir / f"{slug}.log"
    with tempfile.TemporaryDirectory(prefix="serve-diff-") as tmp:
        log = Path(tmp) / "outcomes.jsonl"
        command = [sys.executable, "-m", "pytest", f"--serve-impl={impl}", "-p", "pytest_serve.difflog"]
        if impl == "ray" and args.ray_address:
            command.append(f"--ray-address={args.ray_address}")
            if args.serve_url:
                command.append(f"--serve-url={args.serve_url}")
        command += args.pytest_args
        env = {**os.environ, LOG_ENV_VAR: str(log)}
        started = time.monotonic()
        try:
            with open(output, "w", encoding="utf-8") as out:
                done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return None, f"it took longer than {args.timeout:.0f} s (--timeout); its output is in {output}"
        duration = time.monotonic() - started
        lines = output.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        tail = "\n".join(lines[-15:])
        if done.returncode in NOT_STARTED:
            return None, f"pytest exited {done.returncode} ({NOT_STARTED[done.returncode]}):\n{tail}"
        records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    if not records:
        return None, f"pytest exited {done.returncode} and ran no test:\n{tail}"
    summary = lines[-1].strip("= ") if lines else ""
    return Run(impl, done.returncode, merge_phases(records), duration, summary), None
