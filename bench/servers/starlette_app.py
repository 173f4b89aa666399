"""The floor: the benchmark's handlers on bare uvicorn + Starlette, no Serve in between.

    python starlette_app.py --port N --events FILE [--startup-only]

Same routes and the same uvicorn settings as the reference implementation's proxy
(uvloop and httptools when installed, no access log, one process). `/cancel` is
served too, but Starlette does not cancel a plain handler whose client left, so the
benchmark does not measure cancellation here. Prints one `BENCH_READY {json}` line
once `/` answers 200; stops on SIGTERM, when the parent goes away, or after
`--max-lifetime` seconds.
"""

from __future__ import annotations

import time

_T_IMPORT = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

import starlette  # noqa: E402
import uvicorn  # noqa: E402
from readiness import wait_200  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

IMPORT_S = time.perf_counter() - _T_IMPORT


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--events", required=True)
    parser.add_argument("--max-lifetime", type=float, default=1800.0)
    parser.add_argument("--startup-only", action="store_true", help="exit once / answered 200")
    return parser.parse_args()


ARGS = _args()


async def hello(request):
    return JSONResponse({"hello": "world"})


async def sleeper(request):
    await asyncio.sleep(30)
    return PlainTextResponse("not cancelled")


async def streamer(request):
    n = int(request.query_params.get("n", "50"))
    interval = float(request.query_params.get("interval", "0.01"))

    async def lines():
        for i in range(n):
            yield f"{i}:{time.monotonic_ns()}\n"
            await asyncio.sleep(interval)

    return StreamingResponse(lines(), media_type="text/plain")


app = Starlette(routes=[Route("/", hello), Route("/cancel", sleeper), Route("/stream", streamer)])


def main() -> int:
    host = "127.0.0.1"
    t0 = time.perf_counter()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, ARGS.port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        access_log=False,
        log_config=None,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    parent = os.getppid()
    deadline = time.monotonic() + ARGS.max_lifetime

    def announce() -> None:
        wait_200(host, port, timeout=60)
        info = {"url": f"http://{host}:{port}", "pid": os.getpid(), "impl": "starlette"}
        info |= {"version": f"uvicorn {uvicorn.__version__}, starlette {starlette.__version__}"}
        info |= {"python": sys.version.split()[0], "import_s": IMPORT_S, "init_s": 0.0}
        info |= {"start_to_200_s": time.perf_counter() - t0}
        print("BENCH_READY " + json.dumps(info), flush=True)
        if ARGS.startup_only:
            server.should_exit = True
        while not server.should_exit:
            if os.getppid() != parent or time.monotonic() > deadline:
                server.should_exit = True
            time.sleep(0.5)

    threading.Thread(target=announce, daemon=True).start()
    server.run(sockets=[sock])  # uvicorn handles SIGTERM/SIGINT itself
    return 0


if __name__ == "__main__":
    sys.exit(main())
