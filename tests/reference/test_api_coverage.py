"""docs/ray-api-coverage.md tells the truth about the reference, and is up to date."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

from reference_impl.ray_alias import SERVE_MODULES

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "ray-api-coverage.md"
SCRIPT = ROOT / "scripts" / "ray_api_coverage.py"


def _implemented() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    module = None
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            heading = re.match(r"## (ray\.serve[\w.]*):", line)
            module = heading.group(1) if heading else None
        elif (item := re.match(r"- \[X\] `(\w+)`", line)) and module is not None:
            found.setdefault(module, []).append(item.group(1))
    return found


def test_names_marked_implemented_exist_in_the_reference() -> None:
    """Every `[X]` name of the page is an attribute of the module standing in for Ray's."""
    implemented = _implemented()
    assert implemented, "the coverage page lists no implemented names"
    missing = [
        f"{module}.{name}"
        for module, names in implemented.items()
        for name in names
        if not hasattr(importlib.import_module(SERVE_MODULES[module]), name)
    ]
    assert not missing, f"marked implemented but missing from the reference: {missing}"


def test_page_is_up_to_date() -> None:
    """The page is what the script makes of the Ray snapshot and the reference today."""
    done = subprocess.run([sys.executable, str(SCRIPT), "check"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{done.stderr.strip()} (regenerate with python scripts/ray_api_coverage.py render)"
