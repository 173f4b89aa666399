"""The cluster tests start a two-node Ray cluster; they run in `tox -e ray` only.

They need real Ray, `unshare` (root, for the worker node's private /tmp) and a few
minutes: set PYTEST_SERVE_CLUSTER_TESTS=1 to run them (tox -e ray does).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import pytest

from .local_cluster import LocalCluster

ENABLE_VAR = "PYTEST_SERVE_CLUSTER_TESTS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if os.environ.get(ENABLE_VAR) != "1":
        reason = f"cluster tests start a two-node Ray cluster; set {ENABLE_VAR}=1 (tox -e ray does)"
    elif importlib.util.find_spec("ray") is None:
        reason = 'cluster tests need Ray: pip install "pytest-serve[ray]"'
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
            # One cluster for the module: keep its tests on one xdist worker.
            item.add_marker(pytest.mark.xdist_group("ray-cluster"))


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """module scope · a running two-node cluster with Serve (keep-alive 6 s) on it."""
    running = LocalCluster(keep_alive_timeout_s=6.0)
    running.start()
    try:
        yield running
    finally:
        running.stop()
