"""Registers `xdist_group` for runs without pytest-xdist (the suite uses --strict-markers)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xdist_group(name): with --dist loadgroup, run tests of one group on one worker")
