"""`python -m bench.storm [--requests 10000]`: the full disconnect storm.

Runs tests/reliability/test_disconnect_storm.py with `PYTEST_SERVE_STORM` set to the
number of requests (the test suite runs 1 500) and prints the test's figures: what
became of the requests, and the threads, sockets, tasks and RSS before and after.
See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT / "tests" / "reliability" / "test_disconnect_storm.py"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.storm", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="storm size (default 10000)")
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTEST_SERVE_STORM": str(args.requests)}
    command = [sys.executable, "-m", "pytest", str(TEST), "-q", "-s", "-p", "no:cacheprovider"]
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
