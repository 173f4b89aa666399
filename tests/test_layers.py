"""The packages' import graph: no cycles, and no module importing from a layer above its own.

Read from the source with `ast` (every import statement, also those inside functions
and under TYPE_CHECKING), so a lazy import that goes the wrong way shows too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pytest_serve", "reference_impl", "conformance")

# reference_impl, bottom to top: what deployments are made of, the request path, Ray's names.
REFERENCE_LAYERS = {
    "models": {
        "types",
        "exceptions",
        "autoscaling",
        "config",
        "config_file",
        "schema",
        "context",
        "finalizers",
        "unavailable",
        "ray_names",
        "ray_exceptions",
        "serialization",
        "deployment",
        "ingress",
        "batching",
        "multiplex",
        "metrics",
    },
    "runtime": {"runtime"},
    "names": {
        "serve",
        "api",
        "handle",
        "instance",
        "ray_alias",
        "ray_stub",
        "cli",
        "build",
        "rest_api",
        "rest_client",
        "ray_yaml",
        "script_runner",
        "ignored_names",
        "__init__",
        "__main__",
    },
}
# pytest_serve, bottom to top: client tools, then reports and adapters (neither imports the
# other), then the door to the suite, then the session's wiring and the CLI.
PLUGIN_LAYERS = {
    "tools": {"properties", "observe", "timing", "http", "probe", "keepalive", "deployed"},
    "reporting": {"reporting"},
    "adapters": {"adapters"},
    "suite": {"suite"},
    "session": {
        "plugin",
        "fixtures",
        "markers",
        "manager",
        "xdist",
        "alias",
        "results",
        "cli",
        "__init__",
        "__main__",
        "difflog",
        "diffrun",
    },
}
PLUGIN_ORDER = {"tools": 0, "reporting": 1, "adapters": 1, "suite": 2, "session": 3}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "guide" in path.relative_to(ROOT / package).parts:
                continue  # the guide's examples, kept as the guide prints them
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__" and len(parts) > 1:
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """The project modules `name` imports (a `from package import module` names the module)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found = candidate if candidate in MODULES else target
                if found in MODULES and found != name:
                    yield found


GRAPH = {name: sorted(set(_imports(name, path))) for name, path in MODULES.items()}


def _layer(module: str, package: str, layers: dict[str, set[str]]) -> str:
    parts = module.split(".")
    first = parts[1] if len(parts) > 1 else "__init__"
    for layer, members in layers.items():
        if first in members:
            return layer
    raise AssertionError(f"{module} is in no layer of {package}: add it to this test's table")


def test_no_import_cycle() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for dep in GRAPH[module]:
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if dep not in state:
                visit(dep)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("reference_impl")))
def test_reference_impl_imports_downward(module: str) -> None:
    order = list(REFERENCE_LAYERS)
    own = order.index(_layer(module, "reference_impl", REFERENCE_LAYERS))
    upward = [
        dep
        for dep in GRAPH[module]
        if dep.startswith("reference_impl") and order.index(_layer(dep, "reference_impl", REFERENCE_LAYERS)) > own
    ]
    assert not upward, f"{module} ({order[own]}) imports from a layer above its own: {upward}"
    outside = [dep for dep in GRAPH[module] if not dep.startswith("reference_impl")]
    assert not outside, f"{module} imports {outside}: the reference stands alone"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("pytest_serve")))
def test_plugin_imports_downward(module: str) -> None:
    own = _layer(module, "pytest_serve", PLUGIN_LAYERS)
    wrong = [
        dep
        for dep in GRAPH[module]
        if dep.startswith("pytest_serve")
        and (other := _layer(dep, "pytest_serve", PLUGIN_LAYERS)) != own
        and PLUGIN_ORDER[other] >= PLUGIN_ORDER[own]
    ]
    assert not wrong, f"{module} ({own}) imports from a layer beside or above its own: {wrong}"


def test_only_the_suite_door_imports_the_suite() -> None:
    importers = sorted(
        module
        for module, deps in GRAPH.items()
        if module.startswith("pytest_serve") and any(d.startswith("conformance") for d in deps)
    )
    assert importers == ["pytest_serve.suite"]


def test_suite_uses_public_plugin_names_only() -> None:
    private = {
        module: [d for d in deps if d.startswith("pytest_serve.")]
        for module, deps in GRAPH.items()
        if module.startswith("conformance")
    }
    assert not {m: d for m, d in private.items() if d}, "import these through `pytest_serve`'s public names"
