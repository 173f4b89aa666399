"""Certification reports: the model (model.py), its renderers (markdown.py, html.py,
terminal.py), side-by-side comparison (compare.py), and where a report came from
(integrity.py, verify.py). The model imports none of its renderers; `write_report`
puts the three files of a report on disk. No pytest import.
"""

from __future__ import annotations

import json
from pathlib import Path

from .compare import Comparison
from .html import render_html
from .markdown import render_markdown
from .model import VERDICTS, ClauseResult, Report, TestOutcome, Verdict, grade, load_report
from .verify import Verification, verify_file

__all__ = [
    "VERDICTS",
    "ClauseResult",
    "Comparison",
    "Report",
    "TestOutcome",
    "Verdict",
    "Verification",
    "grade",
    "load_report",
    "render_html",
    "render_markdown",
    "verify_file",
    "write_report",
]


def write_report(report: Report, directory: str | Path) -> list[Path]:
    """report.json, report.md and report.html of `report` in `directory` (made if missing)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = out / "report.json", out / "report.md", out / "report.html"
    paths[0].write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(render_markdown(report), encoding="utf-8")
    paths[2].write_text(render_html(report), encoding="utf-8")
    return list(paths)
