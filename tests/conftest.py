"""Settings shared by every directory of the project's own tests."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Many tests start pytest in a fresh interpreter (the selftest alone over a hundred
    # times). With PYTHONDONTWRITEBYTECODE set, as on many CI images, each of them
    # rewrites the asserts of ~80 test and plugin modules again (about 1.4 s a run);
    # without it they share pytest's cached rewrites.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
