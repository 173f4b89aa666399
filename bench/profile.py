"""Profile a server under wrk load with py-spy: `python -m bench.profile [options]`.

Starts the system's server process, runs wrk against `/` for `--seconds`, samples the
server with `py-spy record --format raw` meanwhile, and prints the functions with the
most samples (own and inclusive), per thread. py-spy is a PyPI package
(`pip install py-spy`); on Linux it needs ptrace rights (root, or CAP_SYS_PTRACE).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from . import systems
from .tools import run_wrk

__all__ = ["main", "summarize"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=("reference", "starlette"), default="reference")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=int, default=1000, help="py-spy samples per second")
    parser.add_argument("--gil", action="store_true", help="only sample the thread holding the GIL")
    parser.add_argument("--idle", action="store_true", help="include idle (waiting) samples")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=None, help="also keep the raw (collapsed) stacks here")
    return parser


def summarize(raw: str, top: int) -> str:
    """Own and inclusive sample counts per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        threads[frames[0]] += count
        own[frames[-1]] += count
        for frame in set(frames[1:]):
            inclusive[frame] += count
    out = [f"{total} samples"]
    out += ["", "threads:"] + [f"  {n:6d} {100 * n / total:5.1f}%  {name}" for name, n in threads.most_common()]
    out += ["", "own time:"] + [f"  {n:6d} {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    out += ["", "inclusive:"] + [f"  {n:6d} {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2
    system = systems.reference() if args.system == "reference" else systems.starlette()
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        server = system.start(Path(tmp))
        try:
            run_wrk(server.url + "/", connections=8, duration_s=1)  # warm up
            raw_path = Path(tmp) / "stacks.txt"
            cmd = [py_spy, "record", "--pid", str(server.pid), "--format", "raw", "--threads"]
            cmd += ["--rate", str(args.rate), "--duration", str(args.seconds), "-o", str(raw_path)]
            if args.gil:
                cmd.append("--gil")
            if args.idle:
                cmd.append("--idle")
            result: dict[str, object] = {}
            load = threading.Thread(
                target=lambda: result.update(
                    wrk=run_wrk(server.url + "/", connections=args.connections, duration_s=args.seconds + 1)
                )
            )
            load.start()
            subprocess.run(cmd, check=True, capture_output=True, timeout=args.seconds + 60)
            load.join(args.seconds + 90)
            raw = raw_path.read_text()
            if args.out is not None:
                args.out.write_text(raw)
        finally:
            server.stop()
    wrk = result.get("wrk")
    if wrk is not None:
        print(f"{system.label} under wrk -c{args.connections}: {wrk.rps:,.0f} req/s while sampled")  # type: ignore[attr-defined]
    print(summarize(raw, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
