"""Generate docs/ray-api-coverage.md and reference_impl/ray_names.py from Ray's own public API.

As moto's IMPLEMENTATION_COVERAGE.md is made from boto3, these are made from Ray:

    python scripts/ray_api_coverage.py snapshot   # with Ray installed: writes ray-serve-api.json
    python scripts/ray_api_coverage.py render     # anywhere: writes the page and ray_names.py
    python scripts/ray_api_coverage.py check      # exit 1 if either is out of date

The snapshot holds every public submodule of `ray.serve` (and `ray.exceptions`) with the
names it defines or lists in `__all__`. A name of a module the reference stands in for is
*implemented* when the reference's module has it, *accepted and ignored* when
`reference_impl.ignored_names.ACCEPTED_AND_IGNORED` says so, else *refused*: importing it
works and using it raises an error that names it (`ray_names.py` lists those names for the
alias). A module the reference does not stand in for is refused when imported, by name.
Deployment options come from `serve.deployment`'s signature; the reference's accepted-
but-ignored ones are `reference_impl.deployment._ACCEPTED_RAY_OPTIONS`.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
SNAPSHOT = HERE / "ray-serve-api.json"
PAGE = HERE.parent / "docs" / "ray-api-coverage.md"
NAMES = HERE.parent / "reference_impl" / "ray_names.py"
sys.path.insert(0, str(HERE.parent))

from reference_impl.ray_alias import SERVE_MODULES  # noqa: E402


def _public_names(module: Any) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        # Without __all__: what the module defines itself, not what it imports.
        names = [
            n
            for n, v in vars(module).items()
            if not inspect.ismodule(v)
            and not isinstance(v, TypeVar)
            and getattr(v, "__module__", None) == module.__name__
        ]
    return sorted(n for n in names if not n.startswith("_"))


def _kind(value: Any) -> str:
    if inspect.isclass(value):
        return "class"
    if callable(value):
        return "function"
    return "module" if inspect.ismodule(value) else "constant"


def _ray_modules() -> dict[str, Any]:
    """Every public module of `ray.serve` that imports here, and `ray.exceptions`; the ones
    that need extras Ray's `serve` install lacks (llm, gradio, …) map to their import error."""
    import pkgutil

    from ray import serve

    found: dict[str, Any] = {"ray.serve": serve, "ray.exceptions": importlib.import_module("ray.exceptions")}
    for info in pkgutil.walk_packages(serve.__path__, "ray.serve.", onerror=lambda name: None):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts) or parts[2] in ("generated", "tests", "scripts"):
            continue  # private, protobuf stubs, Ray's tests, the CLI
        try:
            found[info.name] = importlib.import_module(info.name)
        except Exception as err:
            found[info.name] = f"{type(err).__name__}: {err}"
    return found


def snapshot() -> None:
    import ray
    from ray import serve

    modules: dict[str, Any] = {}
    for name, module in sorted(_ray_modules().items()):
        if isinstance(module, str):
            modules[name] = {"__import_error__": module}
        else:
            modules[name] = {n: _kind(getattr(module, n, None)) for n in _public_names(module)}
    options = [p for p in inspect.signature(serve.deployment).parameters if not p.startswith("_")]
    data = {"ray_version": ray.__version__, "modules": modules, "deployment_options": options}
    SNAPSHOT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {SNAPSHOT.name} from Ray {ray.__version__}")


Row = tuple[str, str, str]  # (name, status, note)


def classify() -> tuple[str, dict[str, list[Row] | str], list[Row]]:
    """(ray version, module → its rows or why the whole module is refused, option rows)."""
    from reference_impl.deployment import _ACCEPTED_RAY_OPTIONS, RAY_REFUSED_OPTIONS, DeploymentOptions
    from reference_impl.ignored_names import ACCEPTED_AND_IGNORED

    data = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    result: dict[str, list[Row] | str] = {}
    for ray_name, names in data["modules"].items():
        if ray_name not in SERVE_MODULES:
            error = names.get("__import_error__")
            needs = f" (on Ray it needs more than `ray[serve]`: {error})" if error else ""
            result[ray_name] = f"refused when imported, with an error naming it{needs}"
            continue
        ours = vars(importlib.import_module(SERVE_MODULES[ray_name]))
        rows: list[Row] = []
        for name in names:
            qualified = f"{ray_name}.{name}"
            if qualified in ACCEPTED_AND_IGNORED:
                rows.append((name, "ignored", f"accepted and ignored: {ACCEPTED_AND_IGNORED[qualified]}"))
            elif name in ours:
                rows.append((name, "implemented", ""))
            else:
                rows.append((name, "refused", ""))
        result[ray_name] = rows
    known = set(DeploymentOptions.__dataclass_fields__) | {"logging_config"} | RAY_REFUSED_OPTIONS
    notes = dict.fromkeys(RAY_REFUSED_OPTIONS, "refused with Ray's error, as Ray refuses it")
    notes["autoscaling_config"] = "validated as Ray's `AutoscalingConfig`; sets how many replicas start"
    options: list[Row] = []
    for option in data["deployment_options"]:
        if option in _ACCEPTED_RAY_OPTIONS:
            note = _ACCEPTED_RAY_OPTIONS[option] if isinstance(_ACCEPTED_RAY_OPTIONS, dict) else ""
            options.append((option, "ignored", note or "accepted and ignored (one process, no cluster)"))
        else:
            options.append((option, "implemented" if option in known else "refused", notes.get(option, "")))
    return data["ray_version"], result, options


MARKS = {"implemented": "[X]", "ignored": "[~]", "refused": "[ ]"}


def _bullets(rows: list[Row]) -> list[str]:
    return [f"- {MARKS[status]} `{name}`" + (f" — {note}" if note else "") for name, status, note in rows]


def render_text() -> str:
    version, modules, options = classify()
    tables = {m: rows for m, rows in modules.items() if not isinstance(rows, str)}
    total = sum(len(r) for r in tables.values())
    done = sum(1 for r in tables.values() for _, s, _ in r if s == "implemented")
    refused_modules = [m for m, rows in modules.items() if isinstance(rows, str)]
    lines = [
        "# Ray Serve API coverage of the reference implementation",
        "",
        f"Generated by `scripts/ray_api_coverage.py` from Ray {version}'s public Serve API (every public "
        "module of `ray.serve`, and `ray.exceptions`); do not edit by hand "
        "(`python scripts/ray_api_coverage.py render` regenerates it).",
        "`[X]` implemented, `[~]` accepted and ignored (it exists, does nothing here), `[ ]` refused: "
        "importing it works, using it raises an error that names it and says to run on Ray "
        "(`--serve-impl=ray`). No name half-works.",
        "",
        f"**Total: {done}/{total} names of the {len(tables)} modules the reference stands in for are "
        f"implemented ({100 * done // max(total, 1)}%); the other {len(refused_modules)} modules are "
        "refused when imported.**",
        "",
    ]
    for module, rows in modules.items():
        if isinstance(rows, str):
            continue
        n = sum(1 for _, s, _ in rows if s == "implemented")
        lines += [f"## {module}: {n}/{len(rows)} implemented ({100 * n // max(len(rows), 1)}%)", ""]
        lines += _bullets(rows)
        lines.append("")
    lines += ["## Modules refused when imported", ""]
    lines += [f"- `{m}`: {modules[m]}" for m in refused_modules]
    lines.append("")
    n = sum(1 for _, s, _ in options if s == "implemented")
    lines += [f"## Deployment options (`@serve.deployment(...)`): {n}/{len(options)} implemented", ""]
    lines += _bullets(options)
    return "\n".join(lines) + "\n"


def render_names() -> str:
    """reference_impl/ray_names.py: Ray's public names per module the reference stands in for."""
    data = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    lines = [
        f'"""Ray {data["ray_version"]}\'s public names of each module the Ray alias stands in for.',
        "",
        "Generated by scripts/ray_api_coverage.py from Ray itself; do not edit. A stand-in module",
        "gives an `Unavailable` for a name here that it lacks, so code that imports the name loads",
        'and code that uses it fails with an error naming it."""',
        "",
        "RAY_NAMES: dict[str, frozenset[str]] = {",
    ]
    for module, names in data["modules"].items():
        if module in SERVE_MODULES:
            listed = ", ".join(f'"{n}"' for n in sorted(names))
            lines.append(f'    "{module}": frozenset({{{listed}}}),')
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["snapshot", "render", "check"])
    command = parser.parse_args(argv).command
    if command == "snapshot":
        snapshot()
    elif command == "render":
        NAMES.write_text(render_names(), encoding="utf-8")
        PAGE.write_text(render_text(), encoding="utf-8")
        print(f"wrote {NAMES} and {PAGE}")
    else:
        stale = [p.name for p, text in ((NAMES, render_names()), (PAGE, render_text())) if p.read_text("utf-8") != text]
        if stale:
            print(f"{', '.join(stale)} out of date: python scripts/ray_api_coverage.py render", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
