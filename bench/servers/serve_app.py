"""The benchmark's Serve apps, run on the reference implementation or on Ray Serve.

    python serve_app.py --impl reference|ray --port N --events FILE [--startup-only]
                        [--http-options JSON]

Self-contained (run by path, also by another interpreter such as a Ray virtualenv's).
Deploys three apps and prints one `BENCH_READY {json}` line once `/` answers 200:

- `/`        the trivial JSON handler (`{"hello": "world"}`)
- `/cancel`  sleeps; appends `start ID T` and, when cancelled, `cancel ID T` to FILE
- `/stream`  streams `n` lines `I:T_NS` every `interval` s

T is `time.monotonic()`, one clock for every process of a Linux machine. The
reported startup time runs from just before `serve.start` (and `ray.init` on Ray)
until `/` first answered 200. Stops on SIGTERM, when the parent goes away, or after
`--max-lifetime` seconds. BENCH_GC_THRESHOLD / BENCH_GC_FREEZE tune the garbage
collector once deployed (see `_tune_gc`; off unless set).
"""

from __future__ import annotations

import time

_T_IMPORT = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

from readiness import wait_200  # noqa: E402


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", choices=("reference", "ray"), required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--events", required=True)
    parser.add_argument("--startup-only", action="store_true")
    parser.add_argument("--max-lifetime", type=float, default=1800.0)
    parser.add_argument("--http-options", default="{}", help="JSON: more http_options for serve.start")
    return parser.parse_args()


ARGS = _args()

if ARGS.impl == "ray":
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # read at import: GCS on loopback
    import ray
    from ray import serve

    VERSION = ray.__version__
else:
    import reference_impl
    from reference_impl import serve

    VERSION = reference_impl.__version__

from starlette.responses import StreamingResponse  # noqa: E402

IMPORT_S = time.perf_counter() - _T_IMPORT


@serve.deployment(max_ongoing_requests=256)
class Hello:
    async def __call__(self, request):
        return {"hello": "world"}


@serve.deployment(max_ongoing_requests=256)
class Sleeper:
    def __init__(self, events: str) -> None:
        self._events = events

    def _record(self, what: str, rid: str) -> None:
        line = f"{what} {rid} {time.monotonic():.9f}\n".encode()
        fd = os.open(self._events, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    async def __call__(self, request):
        rid = request.query_params.get("id", "-")
        self._record("start", rid)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self._record("cancel", rid)
            raise
        return "not cancelled"


@serve.deployment(max_ongoing_requests=256)
class Streamer:
    async def __call__(self, request):
        n = int(request.query_params.get("n", "50"))
        interval = float(request.query_params.get("interval", "0.01"))

        async def lines():
            for i in range(n):
                yield f"{i}:{time.monotonic_ns()}\n"
                await asyncio.sleep(interval)

        return StreamingResponse(lines(), media_type="text/plain")


def _start() -> tuple[str, int, dict[str, float]]:
    host = "127.0.0.1"
    t0 = time.perf_counter()
    if ARGS.impl == "ray":
        import ray.serve._private.client as client

        client.CLIENT_POLLING_INTERVAL_S = 0.05  # serve.run polls the controller faster
        ray.init(num_cpus=8, include_dashboard=False, log_to_driver=False)
        t_init = time.perf_counter()
        serve.start(http_options={"host": host, "port": ARGS.port})
        port = ARGS.port
    else:
        t_init = t0
        serve.start(http_options={"host": host, "port": ARGS.port, **json.loads(ARGS.http_options)})
        from reference_impl import api

        instance = api.running_instance()
        assert instance is not None
        port = instance.server.port
    serve.run(Hello.bind(), name="hello", route_prefix="/")
    wait_200(host, port, timeout=120)
    t1 = time.perf_counter()
    times = {"import_s": IMPORT_S, "init_s": t_init - t0, "start_to_200_s": t1 - t0}
    return host, port, times


def _tune_gc() -> None:
    """For the profile findings only: BENCH_GC_THRESHOLD=N sets the first generation's
    threshold, BENCH_GC_FREEZE=1 moves every object alive now out of the collector's way."""
    import gc

    if os.environ.get("BENCH_GC_THRESHOLD"):
        gc.set_threshold(int(os.environ["BENCH_GC_THRESHOLD"]))
    if os.environ.get("BENCH_GC_FREEZE"):
        gc.collect()
        gc.freeze()


def main() -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        host, port, times = _start()
        if not ARGS.startup_only:
            serve.run(Sleeper.bind(ARGS.events), name="cancel", route_prefix="/cancel")
            serve.run(Streamer.bind(), name="stream", route_prefix="/stream")
        info = {"url": f"http://{host}:{port}", "pid": os.getpid(), "impl": ARGS.impl}
        info |= {"version": VERSION, "python": sys.version.split()[0], **times}
        _tune_gc()
        print("BENCH_READY " + json.dumps(info), flush=True)
        parent = os.getppid()
        deadline = time.monotonic() + ARGS.max_lifetime
        while not ARGS.startup_only and not stop.wait(0.5):
            if os.getppid() != parent or time.monotonic() > deadline:
                break
    finally:
        serve.shutdown()
        if ARGS.impl == "ray":
            ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
