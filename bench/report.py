"""The results table (Markdown, with ratios and targets) and the JSON file.

Ratios: `ref/bare` divides the reference's figure by bare uvicorn+Starlette's;
`Ray/ref` says how many times better the reference is than Ray (Ray's latency over
the reference's, the reference's throughput over Ray's), so both read "higher is
better" for the reference except `ref/bare` on latency, where lower is better.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from . import per_test

__all__ = ["table", "write_json"]

REF, BARE, RAY = "reference", "starlette", "ray"


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, str):
        return value
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def _ratio(a: Any, b: Any) -> float | None:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or not b:
        return None
    return a / b


def _x(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else "met" if ok else "**missed**"


def _all_ok(*checks: bool | None) -> bool | None:
    known = [c for c in checks if c is not None]
    return None if not known else all(known)


def table(results: dict[str, Any]) -> str:
    """The full-run table as Markdown."""
    s = results.get("systems", {})
    rows: list[tuple[str, ...]] = []

    def add(
        metric: str,
        path: tuple[str, ...],
        *,
        lower_better: bool,
        target: str = "",
        check=None,
        scale: float = 1.0,
        digits: int = 2,
    ) -> None:
        ref = _get(s, REF, *path)
        bare = _get(s, BARE, *path)
        ray = _get(s, RAY, *path)
        ref, bare, ray = (v * scale if isinstance(v, (int, float)) else v for v in (ref, bare, ray))
        ref_bare = _ratio(ref, bare)
        ray_ref = _ratio(ray, ref) if lower_better else _ratio(ref, ray)
        verdict = _verdict(check(ref, ref_bare, ray_ref)) if check else ""
        rows.append(
            (
                metric,
                _num(ref, digits),
                _num(bare, digits),
                _num(ray, digits),
                _x(ref_bare),
                _x(ray_ref),
                target,
                verdict,
            )
        )

    su = results.get("startup", {})
    ref_start = _get(su, REF, "start_to_200_s", "p50")
    ray_start = _get(su, RAY, "start_to_200_s", "p50")
    bare_start = _get(su, BARE, "start_to_200_s", "p50")
    speedup = _ratio(ray_start, ref_start)
    ok = _all_ok(None if ref_start is None else ref_start <= 0.2, None if speedup is None else speedup >= 60)
    rows.append(
        (
            "startup: serve.run → first 200 (s)",
            _num(ref_start, 3),
            _num(bare_start, 3),
            _num(ray_start, 2),
            _x(_ratio(ref_start, bare_start)),
            _x(speedup),
            "≤ 0.2 s; ≥ 60× Ray",
            _verdict(ok),
        )
    )

    ref_fresh = _get(su, REF, "spawn_to_ready_s", "p50")
    fresh_ratio = _get(su, REF, "ratio_to_bare", "spawn_to_ready")
    rows.append(
        (
            "startup: fresh process → first 200 (s)",
            _num(ref_fresh, 3),
            _num(_get(su, BARE, "spawn_to_ready_s", "p50"), 3),
            _num(_get(su, RAY, "spawn_to_ready_s", "p50"), 2),
            _x(fresh_ratio),
            _x(_ratio(_get(su, RAY, "spawn_to_ready_s", "p50"), ref_fresh)),
            "≤ 2× bare",
            _verdict(None if fresh_ratio is None else fresh_ratio <= 2.0),
        )
    )

    def p50_check(ref: Any, ref_bare: Any, ray_ref: Any) -> bool | None:
        return _all_ok(None if ref_bare is None else ref_bare <= 1.3, None if ray_ref is None else ray_ref >= 5)

    add(
        "latency keep-alive p50 (ms)",
        ("latency", "keepalive", "latency_ms", "p50"),
        lower_better=True,
        target="≤ 1.3× bare; ≥ 5× Ray",
        check=p50_check,
        digits=3,
    )
    add("latency keep-alive p99 (ms)", ("latency", "keepalive", "latency_ms", "p99"), lower_better=True, digits=3)
    add(
        "latency new connection p50 (ms)",
        ("latency", "new_connection", "latency_ms", "p50"),
        lower_better=True,
        target="(≤ 1.3× bare; ≥ 5× Ray)",
        check=p50_check,
        digits=3,
    )
    add(
        "latency new connection p99 (ms)",
        ("latency", "new_connection", "latency_ms", "p99"),
        lower_better=True,
        digits=3,
    )

    def tput_check(ref: Any, ref_bare: Any, ray_ref: Any) -> bool | None:
        return _all_ok(None if ref_bare is None else ref_bare >= 0.7, None if ray_ref is None else ray_ref >= 5)

    for c in _get(results, "plan", "concurrency") or ():
        c = str(c)
        targeted = c in ("1", "8", "32")  # the concurrencies with a target
        add(
            f"throughput c={c} (req/s)",
            ("throughput", c, "rps"),
            lower_better=False,
            target="≥ 0.7× bare; ≥ 5× Ray" if targeted else "",
            check=tput_check if targeted else None,
            digits=0,
        )

    def cancel_check(ref: Any, *_: Any) -> bool | None:
        return None if not isinstance(ref, (int, float)) else ref <= 20

    add("disconnect → CancelledError p50 (ms)", ("cancel", "latency_ms", "p50"), lower_better=True, digits=2)
    add(
        "disconnect → CancelledError p99 (ms)",
        ("cancel", "latency_ms", "p99"),
        lower_better=True,
        target="≤ 20 ms p99",
        check=cancel_check,
        digits=2,
    )

    def jitter_check(ref: Any, *_: Any) -> bool | None:
        return None if not isinstance(ref, (int, float)) else ref <= 10

    add("stream chunk jitter p50 (ms)", ("stream", "jitter_ms", "p50"), lower_better=True, digits=2)
    add(
        "stream chunk jitter p99 (ms)",
        ("stream", "jitter_ms", "p99"),
        lower_better=True,
        target="≤ 10 ms",
        check=jitter_check,
        digits=2,
    )
    add("stream first byte p50 (ms)", ("stream", "first_byte_ms", "p50"), lower_better=True, digits=2)
    add("RSS idle (MiB)", ("memory", "idle_mib"), lower_better=True, digits=0)
    count = _get(results, "plan", "memory_requests") or 0
    ray_count = _get(s, RAY, "memory", "requests")
    label = f"RSS after {count:,} requests".replace(",", " ")
    if ray_count and abs(ray_count - count) > 100:
        label += f" (Ray: {ray_count:,})".replace(",", " ")
    add(label + " (MiB)", ("memory", "after_mib"), lower_better=True, digits=0)

    suite = results.get("suite", {})
    for key, label in (("serial", "conformance suite, serial (s)"), ("xdist", "conformance suite, 4 workers (s)")):
        wall = _get(suite, key, "wall_s")
        if wall is not None:
            rows.append((label, _num(wall, 1), "", "", "", "", "≤ 30 s", _verdict(wall <= 30)))
    per = results.get("per_test", {})
    per_ref = _get(per, REF, "total_ms", "p50")
    if per_ref is not None:
        per_ray = _get(per, RAY, "total_ms", "p50")
        target = per_test.TARGET_MS
        rows.append(
            (
                "a serve_app test: deploy 2 deployments, handle call, GET p50 (ms)",
                _num(per_ref, 2),
                "",
                _num(per_ray, 0),
                "",
                _x(_ratio(per_ray, per_ref)),
                f"≤ {target:g} ms",
                _verdict(per_ref <= target),
            )
        )

    header = ("metric", "reference", "bare", "Ray", "ref/bare", "Ray vs ref", "target", "status")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * 5 + ["---", "---"]) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
