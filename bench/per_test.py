"""What one test costs: the reference, Ray Serve's local testing mode and full Ray, in one run.

The test is what a user writes first: `serve_app` deploys a two-deployment app (an
ingress holding a handle to a second deployment), the test calls the ingress's handle
once and makes one GET through the proxy. On Ray's local testing mode the GET is left
out, as it has no HTTP proxy. Each implementation runs the test N+1 times in a fresh
pytest process; a `conftest.py` hook records each phase, and setup + call + teardown of
every test after the first (which starts the instance) is the per-test figure. The
process figures are the first test (it starts the instance) and the whole pytest run.

The start-up of a pytest session is timed with the plugin and without it
(`-p no:serve`), in turn, on a file of one test that uses no fixture of the plugin.

`python -m bench.per_test [--tests N] [--ray-tests N] [--ray-python PATH] [--json PATH]`
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .tools import python_has, summary_ms

__all__ = ["main", "measure", "session_startup", "table"]

TARGET_MS = 10.0
IMPLS = (("reference", "reference"), ("ray-local", "Ray local testing mode"), ("ray", "Ray"))

_TESTS = """
import os

import pytest

_apps = {}


def _app(serve):
    if "app" not in _apps:
        @serve.deployment
        class Doubler:
            def double(self, x):
                return 2 * x

        @serve.deployment
        class Front:
            def __init__(self, doubler):
                self.doubler = doubler

            async def double(self, x):
                return await self.doubler.double.remote(x)

            async def __call__(self, request):
                return str(await self.doubler.double.remote(int(request.query_params["x"])))

        _apps["app"] = Front.bind(Doubler.bind())
    return _apps["app"]


@pytest.mark.parametrize("i", range(int(os.environ["BENCH_TESTS"])))
def test_app(serve_app, serve, serve_instance, i):
    app = serve_app(_app(serve))
    assert app.handle.double.remote(3).result(timeout_s=60) == 6
    if serve_instance.no_http is None:
        assert app.http.get("/", params={"x": 4}).text == "8"
"""

_CONFTEST = """
import json, os


def pytest_runtest_logreport(report):
    with open(os.environ["BENCH_LOG"], "a") as f:
        f.write(json.dumps([report.nodeid, report.when, report.duration, report.outcome]) + "\\n")
"""

_EMPTY_TEST = "def test_nothing():\n    pass\n"


def _pytest(python: str, *args: str) -> list[str]:
    return [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args]


def measure(impl: str, tests: int, python: str = sys.executable, timeout_s: float = 900) -> dict[str, Any]:
    """Per-test and per-process cost of the two-deployment test on `impl`."""
    with tempfile.TemporaryDirectory(prefix="bench-per-test-") as tmp:
        folder = Path(tmp)
        (folder / "test_per_test.py").write_text(_TESTS)
        (folder / "conftest.py").write_text(_CONFTEST)
        log = folder / "phases.jsonl"
        env = {**os.environ, "BENCH_TESTS": str(tests + 1), "BENCH_LOG": str(log), "RAY_AUTH_MODE": "disabled"}
        started = time.perf_counter()
        done = subprocess.run(
            _pytest(python, f"--serve-impl={impl}"),
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        wall = time.perf_counter() - started
        per_test: dict[str, dict[str, float]] = {}
        for line in log.read_text().splitlines() if log.exists() else []:
            nodeid, when, duration, _ = json.loads(line)
            per_test.setdefault(nodeid, {})[when] = duration
    if done.returncode != 0:
        return {"error": f"pytest exited {done.returncode}: {done.stdout[-1500:]}{done.stderr[-1500:]}"}
    first, *rows = per_test.values()
    return {
        "tests": len(rows),
        "http": impl != "ray-local",
        "process_wall_s": round(wall, 2),
        "first_test_s": round(sum(first.values()), 3),
        "call_ms": summary_ms([r.get("call", 0.0) for r in rows]),
        "teardown_ms": summary_ms([r.get("teardown", 0.0) for r in rows]),
        "total_ms": summary_ms([sum(r.values()) for r in rows]),
    }


def session_startup(runs: int, python: str = sys.executable, timeout_s: float = 120) -> dict[str, Any]:
    """Wall time of a one-test pytest session with the plugin and without it, in turn."""
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        folder = Path(tmp)
        (folder / "test_nothing.py").write_text(_EMPTY_TEST)
        times: dict[str, list[float]] = {"with": [], "without": []}
        for _ in range(runs):
            for key, extra in (("with", []), ("without", ["-p", "no:serve"])):
                started = time.perf_counter()
                done = subprocess.run(
                    _pytest(python, *extra), cwd=folder, capture_output=True, text=True, timeout=timeout_s
                )
                times[key].append(time.perf_counter() - started)
                if done.returncode != 0:
                    return {"error": f"pytest {' '.join(extra)} exited {done.returncode}: {done.stdout[-800:]}"}
    with_s, without_s = statistics.median(times["with"]), statistics.median(times["without"])
    return {
        "runs": runs,
        "with_plugin_s": round(with_s, 3),
        "without_plugin_s": round(without_s, 3),
        "ratio": round(with_s / without_s, 2),
        "ratios": [round(a / b, 2) for a, b in zip(times["with"], times["without"], strict=True)],
    }


def table(results: dict[str, Any]) -> str:
    """The three-way table, Markdown."""
    header = "| per test (p50) and per process | " + " | ".join(label for _, label in IMPLS) + " |"
    lines = [header, "|---" + "|---:" * len(IMPLS) + "|"]

    def row(label: str, get: Any) -> None:
        cells = []
        for impl, _ in IMPLS:
            data = results.get(impl)
            cells.append("—" if not data or "error" in data else get(data))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row(
        "test: deploy, handle call, GET, teardown (ms)",
        lambda d: f"{d['total_ms']['p50']:.1f}" + ("" if d["http"] else " (no GET)"),
    )
    row("  of which the test body: deploy and calls (ms)", lambda d: f"{d['call_ms']['p50']:.1f}")
    row("  of which teardown: delete (ms)", lambda d: f"{d['teardown_ms']['p50']:.1f}")
    row("first test, which starts the instance (s)", lambda d: f"{d['first_test_s']:.2f}")
    row("pytest process, all tests (s)", lambda d: f"{d['process_wall_s']:.1f} ({d['tests'] + 1} tests)")
    ref = results.get("reference") or {}
    if "total_ms" in ref:
        p50 = ref["total_ms"]["p50"]
        lines.append("")
        lines.append(
            f"Target: a test with HTTP ≤ {TARGET_MS:g} ms on the reference: {p50:.1f} ms, "
            + ("met." if p50 <= TARGET_MS else "NOT met.")
        )
    start = results.get("startup") or {}
    if "ratio" in start:
        lines.append(
            "pytest start-up, one test, with the plugin vs without (`-p no:serve`): "
            f"{start['with_plugin_s']:.2f} s vs {start['without_plugin_s']:.2f} s, ratio {start['ratio']:.2f} "
            f"(medians of {start['runs']} runs in turn)."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.per_test", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=100, help="tests on the reference and on local testing mode")
    parser.add_argument("--ray-tests", type=int, default=5, help="tests on full Ray (each takes seconds); 0 skips it")
    parser.add_argument("--startup-runs", type=int, default=10, help="pytest start-ups with and without the plugin")
    parser.add_argument(
        "--ray-python",
        default=os.environ.get("BENCH_RAY_PYTHON"),
        metavar="PATH",
        help="a Python that can import ray and pytest_serve (default: this one, if it can; also $BENCH_RAY_PYTHON)",
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    ray_python = args.ray_python or (sys.executable if python_has(sys.executable, "ray") else None)
    results: dict[str, Any] = {}
    print("bench: per test, reference", flush=True)
    results["reference"] = measure("reference", args.tests)
    if ray_python:
        print("bench: per test, Ray's local testing mode", flush=True)
        results["ray-local"] = measure("ray-local", args.tests, ray_python)
        if args.ray_tests:
            print("bench: per test, full Ray", flush=True)
            results["ray"] = measure("ray", args.ray_tests, ray_python)
    else:
        print("bench: no Python with Ray (--ray-python): the Ray columns stay empty", flush=True)
    print("bench: pytest start-up with and without the plugin", flush=True)
    results["startup"] = session_startup(args.startup_runs)
    for key, data in results.items():
        if "error" in data:
            print(f"bench: {key}: {data['error']}", file=sys.stderr)
    print(table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 1 if any("error" in d for d in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
