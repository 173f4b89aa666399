"""How long and how often each measurement runs: `--quick` (under a minute) or full."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FULL", "QUICK", "Plan"]


@dataclass(frozen=True)
class Plan:
    name: str
    warmup_s: float  # wrk at concurrency 8 before the timed runs of each system
    rounds: int  # latency and throughput runs per system, taken in turn; medians reported
    latency_s: float  # each of the two wrk latency runs (keep-alive, new connection)
    throughput_s: float  # each wrk run, per concurrency
    concurrency: tuple[int, ...]
    cancel_trials: int
    cancel_trials_ray: int
    stream_count: int  # streams per system
    stream_chunks: int
    stream_interval_s: float
    memory_requests: int
    memory_requests_ray: int  # Ray serves a few hundred per second
    startup_runs: int  # start-up-only launches of the reference and of bare Starlette, in turn
    startup_runs_ray: int  # extra ones of Ray (its main launch gives one more sample)
    suite: bool  # run the conformance suite (serially and with xdist)
    per_test_runs: int  # bench.per_test's tests on the reference and on Ray's local testing mode
    per_test_runs_ray: int  # the same on full Ray (0: skip)
    server_cpus: str | None = None  # `taskset -c` list for the server processes
    load_cpus: str | None = None  # and for wrk


QUICK = Plan(
    name="quick",
    warmup_s=1,
    rounds=1,
    latency_s=1,
    throughput_s=1,
    concurrency=(1, 8, 32, 128),
    cancel_trials=50,
    cancel_trials_ray=20,
    stream_count=2,
    stream_chunks=30,
    stream_interval_s=0.01,
    memory_requests=10_000,
    memory_requests_ray=1_000,
    startup_runs=3,
    startup_runs_ray=0,
    suite=False,
    per_test_runs=20,
    per_test_runs_ray=0,
)

FULL = Plan(
    name="full",
    warmup_s=2,
    rounds=3,
    latency_s=3,
    throughput_s=3,
    concurrency=(1, 8, 32, 128),
    cancel_trials=300,
    cancel_trials_ray=200,
    stream_count=10,
    stream_chunks=50,
    stream_interval_s=0.01,
    memory_requests=10_000,
    memory_requests_ray=10_000,
    startup_runs=10,
    startup_runs_ray=1,
    suite=True,
    per_test_runs=100,
    per_test_runs_ray=5,
)
