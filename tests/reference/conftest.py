"""Fixtures for the reference implementation's own tests (not the conformance suite):
see tests/direct_serve.py."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from direct_serve import _serve_shut_down, http, instance, start_serve  # noqa: F401


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], str]]:
    """`write_module(prefix, source) -> name`: `source` as an importable module (for the
    `import_path` of config files), forgotten by `sys.modules` after the test."""
    names: list[str] = []
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(prefix: str, source: str) -> str:
        name = f"{prefix}_{os.getpid()}_{id(tmp_path)}_{len(names)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        names.append(name)
        return name

    yield write
    for name in names:
        sys.modules.pop(name, None)
