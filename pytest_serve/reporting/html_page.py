"""The pieces every HTML page of pytest-serve shares: one self-contained file, with its
style inline and no script, font or image from elsewhere, so it reads the same offline,
attached to a CI run or mailed. No pytest import."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["badge", "esc", "page", "timeline_svg"]

_STYLE = """
:root { --pass: #1a7f37; --fail: #cf222e; --deviation: #9a6700; --error: #8250df;
  --skipped: #57606a; --untested: #8c959f; --not-testable: #bc4c00; --line: #d0d7de; --soft: #f6f8fa; --mark: #fff8c5; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
  margin: 0 auto; max-width: 1200px; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
code, .mono { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.status { font-size: 18px; font-weight: 700; margin: 8px 0 2px; }
.status.ok { color: var(--pass); } .status.bad { color: var(--fail); } .status.warn { color: var(--deviation); }
.origin { color: #57606a; margin: 6px 0 0; padding-left: 18px; }
.badge { display: inline-block; min-width: 74px; padding: 1px 8px; border-radius: 10px; color: #fff;
  font-size: 12px; font-weight: 600; text-align: center; }
.v-pass { background: var(--pass); } .v-fail { background: var(--fail); } .v-deviation { background: var(--deviation); }
.v-error { background: var(--error); } .v-skipped { background: var(--skipped); }
.v-untested { background: var(--untested); } .v-not-testable { background: var(--not-testable); }
.o-passed { background: var(--pass); } .o-failed { background: var(--fail); } .o-error { background: var(--error); }
.o-skipped { background: var(--skipped); } .o-not-testable { background: var(--not-testable); }
details.clause { border-bottom: 1px solid var(--line); }
details.clause > summary { display: grid; grid-template-columns: 70px 104px minmax(160px, 1.1fr) 2fr;
  gap: 10px; align-items: baseline; padding: 6px 4px; cursor: pointer; list-style: none; }
details.clause > summary::-webkit-details-marker { display: none; }
details.clause > summary:hover { background: var(--soft); }
details.clause[open] > summary { background: var(--soft); }
.cid { font-weight: 700; } .figure { font-variant-numeric: tabular-nums; }
.promise { color: #424a53; }
.body { padding: 4px 12px 14px 84px; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.message { white-space: pre-wrap; color: var(--fail); }
.note { color: #57606a; }
.head { display: grid; grid-template-columns: 70px 104px minmax(160px, 1.1fr) 2fr; gap: 10px;
  padding: 4px; color: #57606a; font-size: 12px; border-bottom: 2px solid var(--line); }
tr.differs > td, td.differs { background: var(--mark); }
.legend { color: #57606a; font-size: 12px; }
svg.timeline { display: block; margin: 8px 0; max-width: 100%; }
"""


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def badge(verdict: str, prefix: str = "v") -> str:
    """A coloured label for a verdict (`v`) or a test outcome (`o`)."""
    return f'<span class="badge {prefix}-{esc(verdict)}">{esc(verdict)}</span>'


def page(title: str, body: str) -> str:
    """A whole HTML document: `body` under `title`, with the shared style inline."""
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _step(span: float) -> float:
    """A round tick spacing giving about five ticks over `span`."""
    raw = span / 5 if span > 0 else 0.1
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)


def timeline_svg(rows: Sequence[tuple[str, Sequence[float]]], width: int = 720) -> str:
    """Moments on one time axis, a row of ticks per series (label, seconds). Neighbouring
    rows of equal length are joined item by item, so a lag shows as a slanted line."""
    rows = [(label, list(times)) for label, times in rows if times]
    if not rows:
        return ""
    left, right, row_h, top = 170, 16, 34, 10
    end = max(max(times) for _, times in rows)
    step = _step(end)
    end = max(step, math.ceil(end / step - 1e-9) * step)
    plot = width - left - right
    height = top + row_h * len(rows) + 28

    def x(t: float) -> float:
        return left + plot * (t / end)

    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="timeline">'
    ]
    axis_y = top + row_h * len(rows) + 4
    ticks = round(end / step)
    for i in range(ticks + 1):
        t = i * step
        parts.append(
            f'<line x1="{x(t):.1f}" y1="{top}" x2="{x(t):.1f}" y2="{axis_y}" stroke="#eaeef2"/>'
            f'<text x="{x(t):.1f}" y="{axis_y + 16}" font-size="11" text-anchor="middle" fill="#57606a">'
            f"{t:.{_decimals(step)}f} s</text>"
        )
    for index, (label, times) in enumerate(rows):
        y = top + row_h * index + row_h / 2
        parts.append(
            f'<text x="{left - 10}" y="{y + 4:.1f}" font-size="12" text-anchor="end" fill="#1f2328">{esc(label)}</text>'
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot}" y2="{y:.1f}" stroke="#d0d7de"/>'
        )
        if index > 0 and len(rows[index - 1][1]) == len(times):
            above = top + row_h * (index - 1) + row_h / 2
            for before, now in zip(rows[index - 1][1], times, strict=True):
                parts.append(
                    f'<line x1="{x(before):.1f}" y1="{above + 7:.1f}" x2="{x(now):.1f}" y2="{y - 7:.1f}" '
                    'stroke="#8c959f" stroke-width="1"/>'
                )
        for item, t in enumerate(times):
            parts.append(
                f'<line x1="{x(t):.1f}" y1="{y - 7:.1f}" x2="{x(t):.1f}" y2="{y + 7:.1f}" stroke="#0969da" '
                f'stroke-width="2"><title>{esc(label)} #{item}: {t:.3f} s</title></line>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9))
