"""`python -m bench.handle_call [--calls N] [--ray]`: what a handle call costs, by argument.

A handle call's arguments and result cross as copies, as on Ray (pickled, numpy's
buffers out of band). This times `handle.echo.remote(value).result()` from the driver
for a few values, p50 over `--calls` calls, on the reference with the copies as they
are and with them bypassed (identity: the cost of the rest of the call), so the price
of fidelity shows apart. With `--ray` the same calls run on a private Ray Serve
(on loopback) for comparison. Nothing here is a switch for users: the bypass exists
only in this benchmark.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

from .tools import percentile

__all__ = ["main"]


def _values() -> dict[str, Any]:
    values: dict[str, Any] = {"int": 7, "list of 1,000 ints": list(range(1000)), "dict of 100 str": {}}
    values["dict of 100 str"] = {f"k{i}": f"v{i}" for i in range(100)}
    try:
        import numpy as np
    except ImportError:
        return values
    values["numpy 1 MB"] = np.zeros(1 << 17)  # 131,072 float64
    return values


def _echo_app(serve: Any) -> Any:
    @serve.deployment
    class Echo:
        def echo(self, value: Any) -> Any:
            return value

    return Echo.bind()


def _time_calls(handle: Any, value: Any, calls: int) -> list[float]:
    handle.echo.remote(value).result(timeout_s=60)  # warm
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        handle.echo.remote(value).result(timeout_s=60)
        times.append(time.perf_counter() - began)
    return times


@contextmanager
def _without_copies() -> Any:
    """The reference with copying bypassed, to see what copying itself costs."""
    from reference_impl import handle
    from reference_impl.runtime import replica, streaming

    originals = {m: m.copy_value for m in (handle, replica, streaming)}
    for module in originals:
        module.copy_value = lambda value: value  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module, original in originals.items():
            module.copy_value = original  # type: ignore[attr-defined]


def _run(label: str, serve: Any, calls: int, bypass: Callable[[], Any] | None = None) -> dict[str, float]:
    """p50 per value; with `bypass`, also the p50 with copies bypassed, measured in
    alternating rounds so that both see the same machine (returned under "<value> bare")."""
    handle = serve.run(_echo_app(serve), name="bench", route_prefix=None)
    medians = {}
    for name, value in _values().items():
        copied: list[float] = []
        bare: list[float] = []
        for _ in range(10):
            copied += _time_calls(handle, value, max(calls // 10, 1))
            if bypass is not None:
                with bypass():
                    bare += _time_calls(handle, value, max(calls // 10, 1))
        medians[name] = percentile(copied, 50)
        if bypass is not None:
            medians[f"{name} bare"] = percentile(bare, 50)
    serve.delete("bench")
    shown = {n: t for n, t in medians.items() if not n.endswith(" bare")}
    print(f"  {label}: " + ", ".join(f"{n} {1e6 * t:,.0f} µs" for n, t in shown.items()))
    return medians


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=300, help="calls per value (default 300)")
    parser.add_argument("--ray", action="store_true", help="also time a private Ray Serve (needs ray[serve])")
    args = parser.parse_args(argv)
    from reference_impl import serve

    print(f"handle.echo.remote(value).result(), p50 of {args.calls} calls from the driver:")
    serve.start(http_options={"port": 0})
    try:
        medians = _run("reference", serve, args.calls, _without_copies)
    finally:
        serve.shutdown()
    copied = {n: t for n, t in medians.items() if not n.endswith(" bare")}
    for name in copied:
        print(f"  of which copying {name}: {1e6 * (copied[name] - medians[name + ' bare']):,.0f} µs")
    if args.ray:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        import ray
        from ray import serve as ray_serve

        ray.init(address="local", include_dashboard=False, num_cpus=2)
        try:
            ray_serve.start(http_options={"port": 0})
            on_ray = _run("Ray Serve", ray_serve, max(args.calls // 10, 20))
        finally:
            ray_serve.shutdown()
            ray.shutdown()
        for name in copied:
            print(f"  Ray / reference, {name}: {on_ray[name] / copied[name]:.0f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
