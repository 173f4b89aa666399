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


def test_every_ray_name_works_or_refuses_clearly() -> None:
    """Under the alias, each public name of Ray's Serve modules (the snapshot) imports: either
    the reference's own object or a stand-in whose use raises an error naming it and saying
    to run on Ray; each Ray module the reference does not stand in for fails to import with
    an error naming it. No name is missing with Python's own error."""
    done = subprocess.run(
        [sys.executable, "-c", _CHECK_SURFACE, str(ROOT / "scripts" / "ray-serve-api.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.startswith("checked"), done.stdout + done.stderr


_CHECK_SURFACE = """
import importlib, json, sys
from reference_impl import ray_alias
from reference_impl.unavailable import RayAPIUnavailableError, Unavailable
ray_alias.install()
snapshot = json.load(open(sys.argv[1]))["modules"]
problems, names = [], 0
for module, listed in snapshot.items():
    if module not in ray_alias.SERVE_MODULES:
        try:
            importlib.import_module(module)
            problems.append(f"{module}: imports, but the reference does not stand in for it")
        except ModuleNotFoundError as err:
            named = any(part in str(err) for part in (module, module.rpartition(".")[0]))  # or its parent
            if not named or "--serve-impl=ray" not in str(err):
                problems.append(f"{module}: refused without saying so: {err}")
        continue
    stand_in = importlib.import_module(module)
    for name in listed:
        names += 1
        try:
            value = getattr(stand_in, name)
        except AttributeError as err:
            problems.append(f"{module}.{name}: {err}")
            continue
        if isinstance(value, Unavailable):
            try:
                value()
                problems.append(f"{module}.{name}: its stand-in did not refuse")
            except RayAPIUnavailableError as err:
                if f".{name}`" not in str(err) or "--serve-impl=ray" not in str(err):
                    problems.append(f"{module}.{name}: refused without naming it: {err}")
if problems:
    print("\\n".join(problems))
    sys.exit(1)
print(f"checked {names} names")
"""
