"""On GitHub Actions, a report's Markdown goes into the job's summary page too."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["append_step_summary"]


def append_step_summary(markdown: Path) -> None:
    """On GitHub Actions, the report's Markdown goes into the job's summary page."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return
    try:
        with open(summary, "a", encoding="utf-8") as out:
            out.write(markdown.read_text(encoding="utf-8") + "\n")
    except OSError as err:
        print(f"pytest-serve: cannot append to $GITHUB_STEP_SUMMARY ({summary}): {err}", file=sys.stderr)
