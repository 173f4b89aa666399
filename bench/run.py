"""`python -m bench [--quick] [--no-ray] [--ray-python PATH] [--json PATH]`.

Runs every measurement on bare uvicorn+Starlette and the reference implementation
(both running, measured round by round in turn; figures are medians over the rounds),
then on Ray Serve alone when a Python with Ray is found (its idle processes would
take CPU from the others); prints the table and writes the JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from . import cancel, latency, memory, per_test, report, startup, stream, suite, systems, throughput
from .plan import FULL, QUICK, Plan
from .tools import ensure_wrk, python_has, run_wrk

__all__ = ["main"]

DEFAULT_JSON = Path(__file__).with_name("results") / "latest.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the reference implementation against bare uvicorn+Starlette "
        "and Ray Serve; print the table and write JSON.",
    )
    parser.add_argument("--quick", action="store_true", help="short runs; finishes in under a minute")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray Serve column")
    parser.add_argument(
        "--ray-python",
        metavar="PATH",
        default=None,
        help="a Python interpreter that can import ray (default: this one, if it can; also $BENCH_RAY_PYTHON)",
    )
    parser.add_argument(
        "--server-cpus",
        metavar="LIST",
        default=None,
        help="pin each server process to these CPUs (taskset -c syntax, e.g. 0)",
    )
    parser.add_argument("--load-cpus", metavar="LIST", default=None, help="pin wrk to these CPUs (e.g. 1)")
    parser.add_argument(
        "--json",
        metavar="PATH",
        type=Path,
        default=DEFAULT_JSON,
        help="where to write the results (default bench/results/latest.json)",
    )
    return parser


def _ray_python(args: argparse.Namespace) -> tuple[str | None, str]:
    """The interpreter for the Ray column, or None and why not."""
    if args.no_ray:
        return None, "skipped (--no-ray)"
    candidate = args.ray_python or os.environ.get("BENCH_RAY_PYTHON") or sys.executable
    if python_has(candidate, "ray.serve"):
        return candidate, ""
    if args.ray_python or os.environ.get("BENCH_RAY_PYTHON"):
        return None, f"skipped: {candidate} cannot import ray.serve"
    return None, "skipped: ray is not importable here; pass --ray-python PATH"


def _versions(ray_version: str | None) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("uvicorn", "starlette", "fastapi", "uvloop", "httptools", "pytest-serve"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    out["ray"] = ray_version or "not run"
    return out


def _step(results: dict[str, Any], key: str, fn: Callable[..., Any], *args: Any) -> None:
    """Run `fn(*args)`, one measurement; a failure is recorded and the run goes on."""
    started = time.perf_counter()
    print(f"bench:   {key} ...", end="", flush=True)
    try:
        results[key] = fn(*args)
        print(f" {time.perf_counter() - started:.1f} s", flush=True)
    except Exception as err:
        results[key] = {"error": f"{type(err).__name__}: {err}"}
        print(f" failed: {err}", flush=True)
        traceback.print_exc(limit=3)


def _median_of(rounds: list[Any]) -> Any:
    """Numbers: their median; dicts: key by key; anything else: the first round's."""
    first = rounds[0]
    if isinstance(first, dict):
        return {k: _median_of([r[k] for r in rounds if isinstance(r, dict) and k in r]) for k in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return statistics.median(rounds)
    return first


def _measure_group(
    group: list[systems.System], plan: Plan, workdir: Path
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Start the group's servers together and measure them round by round, so the
    ratios between them come from the same minutes of a noisy machine."""
    results: dict[str, Any] = {}
    servers: dict[str, systems.Server] = {}
    try:
        for system in group:
            print(f"bench: {system.label}: starting", flush=True)
            try:
                servers[system.name] = system.start(workdir)
            except Exception as err:
                print(f"bench: {system.label} did not start: {err}", flush=True)
                results[system.name] = {"error": str(err)}
        for name, server in servers.items():
            results[name] = {"version": server.info.get("version"), "pid": server.pid}
            print(f"bench: {server.system.label}", flush=True)
            _step(results[name], "memory", memory.measure, server, plan)
            run_wrk(server.url + "/", connections=8, duration_s=plan.warmup_s, cpus=plan.load_cpus)
        rounds: dict[str, dict[str, list[Any]]] = {n: {"latency": [], "throughput": []} for n in servers}
        for i in range(plan.rounds):
            for name, server in servers.items():
                print(f"bench: {server.system.label}, round {i + 1} of {plan.rounds}", flush=True)
                for key, module in (("latency", latency), ("throughput", throughput)):
                    probe: dict[str, Any] = {}
                    _step(probe, key, module.measure, server, plan)
                    if "error" not in probe[key]:
                        rounds[name][key].append(probe[key])
                    else:
                        results[name][key] = probe[key]
        for name, server in servers.items():
            for key, samples in rounds[name].items():
                if samples:
                    results[name][key] = _median_of(samples)
                    results[name][key + "_rounds"] = samples
            print(f"bench: {server.system.label}", flush=True)
            if name != "starlette":  # Starlette does not cancel a plain handler
                trials = plan.cancel_trials_ray if name == "ray" else plan.cancel_trials
                _step(results[name], "cancel", cancel.measure, server, plan, trials)
            _step(results[name], "stream", stream.measure, server, plan)
        return results, {n: startup.sample(s) for n, s in servers.items()}
    finally:
        for server in servers.values():
            server.stop()


def _leftovers() -> list[str]:
    return [f"{p.pid} {' '.join(p.cmdline()[:3])}" for p in psutil.Process().children(recursive=True) if p.is_running()]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    plan = dataclasses.replace(QUICK if args.quick else FULL, server_cpus=args.server_cpus, load_cpus=args.load_cpus)
    ensure_wrk()
    ray_python, ray_note = _ray_python(args)
    chosen = [systems.starlette(), systems.reference()]
    if ray_python:
        chosen.append(systems.ray(ray_python))
    else:
        print(f"bench: Ray Serve column {ray_note}", flush=True)
    chosen = [dataclasses.replace(s, cpus=plan.server_cpus) for s in chosen]

    began = time.perf_counter()
    results: dict[str, Any] = {
        "meta": {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "machine": platform.platform(),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
            "ray": ray_note or "run",
        },
        "plan": {k: v for k, v in plan.__dict__.items()},
        "systems": {},
        "startup": {},
        "suite": {},
        "per_test": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        # Ray runs on its own: its idle processes would take CPU from the others.
        groups = [[s for s in chosen if s.name != "ray"], [s for s in chosen if s.name == "ray"]]
        for group in filter(None, groups):
            measured, first_starts = _measure_group(group, plan, workdir)
            results["systems"].update(measured)
            if any(s.name == "ray" for s in group):
                for system in group:
                    earlier = [first_starts[system.name]] if system.name in first_starts else []
                    print(f"bench: {system.label}: start-up", flush=True)
                    _step(
                        results["startup"],
                        system.name,
                        startup.measure,
                        system,
                        plan.startup_runs_ray,
                        workdir,
                        earlier,
                    )
            else:  # bare first: the reference's ratios are to it
                print("bench: start-up, " + " and ".join(s.label for s in group) + " in turn", flush=True)
                in_turn: dict[str, Any] = {}
                ordered = sorted(group, key=lambda s: s.name != "starlette")
                _step(in_turn, "startup", startup.measure_in_turn, ordered, plan.startup_runs, workdir)
                results["startup"].update(in_turn["startup"] if "error" not in in_turn["startup"] else in_turn)
        print("bench: pytest-serve", flush=True)
        per = results["per_test"]
        _step(per, "reference", per_test.measure, "reference", plan.per_test_runs)
        if ray_python:
            _step(per, "ray-local", per_test.measure, "ray-local", plan.per_test_runs, ray_python)
            if plan.per_test_runs_ray:
                _step(per, "ray", per_test.measure, "ray", plan.per_test_runs_ray, ray_python)
        if plan.suite:
            _step(results["suite"], "serial", suite.conformance_wall_time)
            _step(results["suite"], "xdist", functools.partial(suite.conformance_wall_time, workers=4))
    ray_version = results["systems"].get("ray", {}).get("version")
    results["meta"]["versions"] = _versions(ray_version)
    results["meta"]["wall_s"] = round(time.perf_counter() - began, 1)
    results["meta"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    leftovers = _leftovers()
    results["meta"]["leftover_processes"] = leftovers

    print()
    print(
        f"{results['meta']['date']} · {results['meta']['cpus']} CPUs · plan {plan.name} · "
        + ", ".join(f"{k} {v}" for k, v in results["meta"]["versions"].items())
    )
    print(report.table(results))
    if leftovers:
        print(f"bench: WARNING: processes left running: {leftovers}")
    report.write_json(results, args.json)
    print(f"\nbench: wrote {args.json} ({results['meta']['wall_s']} s)")
    return 0
