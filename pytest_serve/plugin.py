"""pytest-serve's entry point (`pytest11`): options, markers and session hooks."""

from __future__ import annotations

import os
from typing import Any

import pytest

from reference_impl.ray_alias import RayAlreadyImportedError

from . import properties, suite
from .adapters import AdapterError
from .alias import RayAliasState, alias_state
from .fixtures import (
    MANAGER_KEY,
    serve,
    serve_app,
    serve_config,
    serve_http_timeout,
    serve_instance,
    serve_module,
    serve_observe,
    serve_probe,
)
from .manager import DEFAULT_CONFIG, InstanceManager
from .markers import MARKERS, clause_ids, instance_config
from .results import ResultCollector
from .xdist import XdistController, XdistWorker, report_starts

__all__ = [
    "serve",
    "serve_app",
    "serve_config",
    "serve_http_timeout",
    "serve_instance",
    "serve_module",
    "serve_observe",
    "serve_probe",
]

ENV_IMPL = "PYTEST_SERVE_IMPL"
ENV_RAY_ALIAS = "PYTEST_SERVE_RAY_ALIAS"
ENV_RAY_ADDRESS = "RAY_ADDRESS"
COLLECTOR_KEY = pytest.StashKey[ResultCollector]()
ALIAS_KEY = pytest.StashKey[RayAliasState]()
CONFIG_FILE_KEY = "~config-file"  # sorts last; each such test starts its own instance


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("serve", "pytest-serve (Serve apps and Serve implementations)")
    group.addoption(
        "--serve-impl",
        dest="serve_impl",
        default=None,
        metavar="IMPL",
        help="implementation under test: 'reference' (default), 'ray', 'ray-local' (Ray Serve's "
        "local testing mode), a module exposing the "
        "Ray Serve API ('pkg.serve'), or 'pkg.module:AdapterClass'. "
        f"Also ${ENV_IMPL} or the serve_impl ini key.",
    )
    group.addoption(
        "--ray-address",
        dest="serve_ray_address",
        default=None,
        metavar="ADDR",
        help="with --serve-impl=ray: test the Serve of this running Ray cluster (head:6379, "
        "ray://head:10001) instead of starting a private Ray; the cluster and its Serve are left "
        f"running, only this session's apps are deleted. Also ${ENV_RAY_ADDRESS}.",
    )
    group.addoption(
        "--serve-url",
        dest="serve_url",
        default=None,
        metavar="URL",
        help="with --ray-address: the base URL clients reach the cluster's Serve through (a load "
        "balancer, an ingress, a port-forward) when it is not the proxy's own address; HTTP and "
        "WebSocket tests go through it",
    )
    group.addoption(
        "--serve-report",
        dest="serve_report",
        default=None,
        metavar="DIR",
        help="write the certification report (report.json, report.md) into DIR",
    )
    group.addoption(
        "--serve-deviations",
        dest="serve_deviations",
        default=None,
        metavar="FILE",
        help="YAML/JSON file mapping clause IDs to the reason the implementation departs "
        "from them; such clauses still run and are reported as 'deviation' when they fail",
    )
    group.addoption(
        "--clause",
        dest="serve_clauses",
        action="append",
        default=[],
        metavar="PREFIX",
        help="only run tests marked with a clause ID starting with PREFIX (e.g. CAN, KA-4); repeatable",
    )
    group.addoption(
        "--serve-tier",
        dest="serve_tiers",
        action="append",
        default=[],
        choices=list(suite.TIERS),
        help="only run the clause tests of this tier of the catalogue ('guide': the HTTP guide, "
        "'api': the Serve API beyond it); repeatable; the report judges the tiers run",
    )
    group.addoption(
        "--no-serve-ray-alias",
        dest="serve_ray_alias",
        action="store_false",
        default=None,
        help="with the reference implementation, leave `import ray` alone: by default "
        "`ray.serve` and its submodules resolve to the reference for the whole session, "
        f"so apps written with `from ray import serve` run unchanged. Also ${ENV_RAY_ALIAS}=0 "
        "or the serve_ray_alias ini key.",
    )
    parser.addini("serve_impl", "default implementation under test (see --serve-impl)", default="reference")
    parser.addini(
        "serve_known_differences",
        "tests known to end differently on some implementations, one 'NODE-ID-PREFIX: reason' per "
        "line; `pytest-serve diff` lists them apart (as @pytest.mark.serve_known_difference does)",
        type="linelist",
        default=[],
    )
    parser.addini(
        "serve_ray_alias",
        "run `from ray import serve` code on the reference implementation (see --no-serve-ray-alias)",
        type="bool",
        default=True,
    )


def _impl(config: pytest.Config, namespace: Any = None) -> tuple[str, bool]:
    """The --serve-impl value, and whether the user chose it explicitly."""
    option = namespace if namespace is not None else config.option
    if option.serve_impl:
        return option.serve_impl, True
    if os.environ.get(ENV_IMPL):
        return os.environ[ENV_IMPL], True
    value = str(config.getini("serve_impl") or "reference")
    return value, value != "reference"


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Install the Ray alias before any conftest or test module imports `ray`."""
    impl, _ = _impl(early_config, early_config.known_args_namespace)
    early_config.stash[ALIAS_KEY] = state = alias_state(
        impl,
        option=early_config.known_args_namespace.serve_ray_alias,
        ini=bool(early_config.getini("serve_ray_alias")),
        env=os.environ.get(ENV_RAY_ALIAS),
    )
    if state.wanted:
        try:
            state.install()
        except RayAlreadyImportedError as err:
            raise pytest.UsageError(f"pytest-serve: {err} Or pass --no-serve-ray-alias.") from None


def pytest_report_header(config: pytest.Config) -> str | None:
    state = config.stash.get(ALIAS_KEY, None)
    return state.header() if state is not None else None


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(ALIAS_KEY, None)
    if state is not None:
        state.uninstall()


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    impl, explicit = _impl(config)
    ray_address = config.option.serve_ray_address
    if ray_address is None and impl == "ray":
        ray_address = os.environ.get(ENV_RAY_ADDRESS) or None
    manager = InstanceManager(impl, ray_address=ray_address, serve_url=config.option.serve_url)
    if explicit or ray_address or config.option.serve_url:
        # Fail once, up front, rather than in every test.
        try:
            _ = manager.adapter
        except AdapterError as err:
            raise pytest.UsageError(f"pytest-serve: {err}") from None
    config.stash[MANAGER_KEY] = manager
    collector = ResultCollector(config, manager)
    config.stash[COLLECTOR_KEY] = collector
    config.pluginmanager.register(collector, "serve-results")
    if hasattr(config, "workerinput"):
        config.pluginmanager.register(XdistWorker(config, _group_key), "serve-xdist-worker")
    elif config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistController(manager, collector.add_collected), "serve-xdist-controller")


def _config_key(item: pytest.Item) -> str:
    """Which instance the test needs: tests with one key share one instance."""
    names = getattr(item, "fixturenames", ())
    if "serve_config" in names:
        instance_config(item)  # bad marker arguments are usage errors here too
        return CONFIG_FILE_KEY
    if "serve_instance" in names:
        return instance_config(item).key
    return DEFAULT_CONFIG.key


def _group_key(item: pytest.Item) -> str | None:
    """The configuration to keep on one xdist worker, if any: tests with default settings
    spread freely, and config-file tests start an instance of their own anyway."""
    key = _config_key(item)
    return None if key in (DEFAULT_CONFIG.key, CONFIG_FILE_KEY) else key


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    prefixes, tiers = config.option.serve_clauses, config.option.serve_tiers
    if prefixes or tiers:
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            ids = clause_ids(item)
            (keep if suite.selects(ids, prefixes, tiers) else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep
    for item in items:
        ids = clause_ids(item)
        unknown = suite.unknown_clauses(ids)
        if unknown:
            known = ", ".join(suite.CLAUSES)
            raise pytest.UsageError(f"{item.nodeid}: unknown clause ID {unknown[0]!r}; known: {known}")
        item.user_properties.extend((properties.CLAUSE, clause) for clause in ids)
    # Group tests by the instance settings they need, default settings first and tests
    # that start from a config file last, so the instance restarts once per distinct
    # configuration (costly on Ray: ~10 s each).
    keys = {item: _config_key(item) for item in items}
    order = {DEFAULT_CONFIG.key: 0}
    for key in keys.values():
        order.setdefault(key, len(order))
    order[CONFIG_FILE_KEY] = len(order)
    items.sort(key=lambda item: order[keys[item]])


def pytest_sessionfinish(session: pytest.Session) -> None:
    manager = session.config.stash.get(MANAGER_KEY, None)
    if manager is not None:
        try:
            manager.read_instance_facts()
        except Exception as err:
            session.config.get_terminal_writer().line(
                f"pytest-serve: reading facts about the instance failed: {err}", red=True
            )
        report_starts(session.config, manager)
        try:
            manager.stop()
        except Exception as err:  # never hide the test results behind a teardown error
            session.config.get_terminal_writer().line(f"pytest-serve: stopping failed: {err}", red=True)
        manager.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    manager = terminalreporter.config.stash.get(MANAGER_KEY, None)
    if manager is not None and manager.starts:
        terminalreporter.write_line(
            f"pytest-serve: {manager.adapter.name} started {manager.starts} time(s) "
            f"for {len(manager.configs)} distinct configuration(s)"
        )
