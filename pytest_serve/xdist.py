"""pytest-xdist support: each configuration's tests on one worker, starts added up.

Under `--dist loadgroup` xdist keeps tests with one `xdist_group` mark on one worker by
appending `@group` to their node IDs, which pytest 9.2 no longer lets it do. So the
workers here tell the controller each test's group through a file instead, and the
controller schedules by those groups: the configuration groups of this plugin and the
`xdist_group` marks of the project alike, on every pytest version.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .manager import InstanceManager

__all__ = ["XdistController", "XdistWorker"]

GROUPS_DIR_KEY = "serve_groups_dir"
STARTS_KEY = "serve_starts"
COLLECTED_KEY = "serve_collected"  # what a worker's ResultCollector collected
FACTS_KEY = "serve_instance_facts"  # what a worker's adapter observed about its instance


def _group_of(item: pytest.Item) -> str | None:
    marks = item.iter_markers("xdist_group")
    names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks})
    return "_".join(names) or None  # as xdist names a test with several marks


class XdistWorker:
    """On each xdist worker: marks each non-default configuration's tests as one group
    and writes every test's group where the controller reads it."""

    def __init__(self, config: pytest.Config, config_key: Callable[[pytest.Item], str | None]) -> None:
        self.config = config
        self.config_key = config_key

    @pytest.hookimpl(tryfirst=True)  # before xdist reads the marks in its hook of this name
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            key = self.config_key(item)
            if key is not None and not item.get_closest_marker("xdist_group"):
                digest = hashlib.sha1(key.encode()).hexdigest()[:10]
                item.add_marker(pytest.mark.xdist_group(f"serve-config-{digest}"))

    # NOTE: tryfirst: the file must be complete before xdist's own hook of this name tells
    # the controller that collection finished, since the controller then reads it. Marks
    # and order are final by now (pytest_collection_modifyitems has run).
    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        workerinput: dict[str, Any] = getattr(self.config, "workerinput", {})
        directory = workerinput.get(GROUPS_DIR_KEY)
        if not directory:
            return
        groups = {item.nodeid: group for item in session.items if (group := _group_of(item))}
        path = Path(directory) / f"{workerinput.get('workerid', 'gw')}.json"
        partial = path.with_suffix(".part")  # not *.json: never read half-written
        partial.write_text(json.dumps(groups), encoding="utf-8")
        os.replace(partial, path)


class XdistController:
    """On the xdist controller: schedules by the groups the workers wrote, adds up the
    instance starts they report, keeps their facts about the instance, and hands what
    each collected to `on_collected`."""

    def __init__(self, manager: InstanceManager, on_collected: Callable[[dict[str, Any]], None]) -> None:
        self.manager = manager
        self.on_collected = on_collected
        self.groups_dir = tempfile.mkdtemp(prefix="pytest-serve-groups-")

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[GROUPS_DIR_KEY] = self.groups_dir

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        if config.getvalue("dist") != "loadgroup":
            return None
        return _grouped_scheduling(config, log, Path(self.groups_dir))

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output = getattr(node, "workeroutput", {})
        starts, configs = output.get(STARTS_KEY, (0, []))
        self.manager.starts += starts
        self.manager.configs.update(configs)
        # Each worker observed the same instance (or cluster): keep the fullest account.
        facts = output.get(FACTS_KEY) or {}
        if len(facts) > len(self.manager.instance_facts):
            self.manager.instance_facts = dict(facts)
        if COLLECTED_KEY in output:
            self.on_collected(output[COLLECTED_KEY])

    def pytest_unconfigure(self) -> None:
        shutil.rmtree(self.groups_dir, ignore_errors=True)


def _grouped_scheduling(config: pytest.Config, log: Any, groups_dir: Path) -> Any:
    from xdist.scheduler import LoadGroupScheduling

    class GroupedScheduling(LoadGroupScheduling):  # type: ignore[misc]
        """xdist's loadgroup, reading each test's group from the workers' files."""

        _groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._groups is None:
                self._groups = {}
                for path in sorted(groups_dir.glob("*.json")):
                    self._groups.update(json.loads(path.read_text(encoding="utf-8")))
            group = self._groups.get(nodeid)
            return group if group is not None else str(super()._split_scope(nodeid))

    return GroupedScheduling(config, log)


def report_starts(config: pytest.Config, manager: InstanceManager) -> None:
    """On a worker: hand this worker's instance starts and facts to the controller."""
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[STARTS_KEY] = (manager.starts, sorted(manager.configs))
        workeroutput[FACTS_KEY] = dict(manager.instance_facts)
