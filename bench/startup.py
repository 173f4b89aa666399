"""`python -m bench.startup [--runs N]`: start-up, inside the process and as a whole.

Two figures: `serve.start` + `serve.run(trivial app)` → the first 200 response inside
the process, and a whole fresh process → the first 200.

Each sample is a fresh server process that times itself from just before
`serve.start` (and `ray.init`, which a first `serve.run` on Ray implies) until `/`
answered 200, then exits. Also kept: the interpreter's import time and the
spawn-to-ready time the benchmark saw, from spawning the process to reading its ready
line, written once `/` answered 200 (Python's own start-up and every import
included). The reference and bare Starlette are launched in turn (A B A B ...), and
`ratio_to_bare` is the median of each pair's ratio, so the machine's drift cancels.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import systems as known
from .systems import Server, System
from .tools import percentile

__all__ = ["main", "measure", "measure_in_turn", "sample"]

KEYS = ("start_to_200_s", "init_s", "import_s", "spawn_to_ready_s")


def sample(server: Server) -> dict[str, float]:
    info = server.info
    return {
        "start_to_200_s": float(info["start_to_200_s"]),
        "init_s": float(info.get("init_s", 0.0)),
        "import_s": float(info.get("import_s", 0.0)),
        "spawn_to_ready_s": server.spawn_to_ready_s,
    }


def _launch(system: System, workdir: Path) -> dict[str, float]:
    server = system.start(workdir, startup_only=True)
    try:
        return sample(server)
    finally:
        server.stop()


def measure(system: System, runs: int, workdir: Path, earlier: list[dict[str, float]]) -> dict[str, Any]:
    """`runs` more start-up-only launches, pooled with `earlier` samples (from the main launch)."""
    return summarize(list(earlier) + [_launch(system, workdir) for _ in range(runs)])


def measure_in_turn(systems: list[System], runs: int, workdir: Path) -> dict[str, Any]:
    """`runs` start-up-only launches of each system, in turn; for every system but the
    first (bare Starlette), the median ratio of its figures to the first's, pair by pair."""
    samples: dict[str, list[dict[str, float]]] = {s.name: [] for s in systems}
    for _ in range(runs):
        for system in systems:
            samples[system.name].append(_launch(system, workdir))
    out = {name: summarize(found) for name, found in samples.items()}
    base = samples[systems[0].name]
    for system in systems[1:]:
        pairs = zip(samples[system.name], base, strict=True)
        ratios = [(a["spawn_to_ready_s"] / b["spawn_to_ready_s"], a["import_s"] / b["import_s"]) for a, b in pairs]
        out[system.name]["ratio_to_bare"] = {
            "spawn_to_ready": round(statistics.median(r[0] for r in ratios), 3),
            "import": round(statistics.median(r[1] for r in ratios), 3),
        }
    return out


def summarize(samples: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(samples)}
    for key in KEYS:
        values = [s[key] for s in samples]
        out[key] = {"p50": round(percentile(values, 50), 4), "min": round(min(values), 4), "max": round(max(values), 4)}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="launches of each system (default 10)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as workdir:
        found = measure_in_turn([known.starlette(), known.reference()], args.runs, Path(workdir))
    print(json.dumps(found, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
