"""Start-up: `serve.start` + `serve.run(trivial app)` → the first 200 response.

Each sample is a fresh server process that times itself from just before
`serve.start` (and `ray.init`, which a first `serve.run` on Ray implies) until `/`
answered 200, then exits. Also kept: the interpreter's import time and the
spawn-to-ready time the benchmark saw (both include Python's own start-up).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .systems import Server, System
from .tools import percentile

__all__ = ["measure", "sample"]


def sample(server: Server) -> dict[str, float]:
    info = server.info
    return {
        "start_to_200_s": float(info["start_to_200_s"]),
        "init_s": float(info.get("init_s", 0.0)),
        "import_s": float(info.get("import_s", 0.0)),
        "spawn_to_ready_s": server.spawn_to_ready_s,
    }


def measure(system: System, runs: int, workdir: Path, earlier: list[dict[str, float]]) -> dict[str, Any]:
    """`runs` more start-up-only launches, pooled with `earlier` samples (from the main launch)."""
    samples = list(earlier)
    for _ in range(runs):
        server = system.start(workdir, startup_only=True)
        try:
            samples.append(sample(server))
        finally:
            server.stop()
    return summarize(samples)


def summarize(samples: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(samples)}
    for key in ("start_to_200_s", "init_s", "import_s", "spawn_to_ready_s"):
        values = [s[key] for s in samples]
        out[key] = {"p50": round(percentile(values, 50), 4), "min": round(min(values), 4), "max": round(max(values), 4)}
    return out
