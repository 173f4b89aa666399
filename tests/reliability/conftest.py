"""Fixtures for the reliability tests: each test owns its Serve instances and ends shut
down (see tests/direct_serve.py), plus pytester."""

from __future__ import annotations

import pytest
from direct_serve import _serve_shut_down, http, instance, start_serve  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    # NOTE: as in tests/plugin/conftest.py: `pytest_plugins = ["pytester"]` is refused
    # in a non-top-level conftest; registering it from this hook works from any directory.
    config.pluginmanager.import_plugin("pytester")
