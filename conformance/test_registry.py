"""The clause registry itself: every documented clause has a test, and tests name real clauses."""

from __future__ import annotations

import ast
from pathlib import Path

from conformance.clauses import CLAUSES

HERE = Path(__file__).parent


def _marked_clauses() -> dict[str, list[str]]:
    """Clause IDs of `@pytest.mark.clause(...)` decorators in the suite's modules → test names."""
    found: dict[str, list[str]] = {}
    for path in sorted(HERE.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute) and deco.func.attr == "clause":
                    for arg in deco.args:
                        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                            found.setdefault(arg.value, []).append(f"{path.name}::{node.name}")
    return found


def test_every_clause_has_a_test() -> None:
    """A clause of the catalogue without a test would be reported 'untested' forever."""
    marked = _marked_clauses()
    missing = [cid for cid in CLAUSES if cid not in marked]
    assert not missing, f"clauses without a conformance test: {missing}"


def test_tests_name_known_clauses() -> None:
    """A typo in a clause marker would silently drop a test from the report."""
    unknown = {cid: tests for cid, tests in _marked_clauses().items() if cid not in CLAUSES}
    assert not unknown, f"tests marked with unknown clause IDs: {unknown}"
