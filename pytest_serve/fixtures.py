"""The plugin's fixtures. Scopes: `_serve_manager` session; the rest per test."""

from __future__ import annotations

import contextlib
import os
import textwrap
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest

from .adapters import Adapter, AdapterError, NotTestableError
from .deployed import DeployedApp
from .manager import InstanceManager
from .markers import clause_ids, instance_config, needed_defaults
from .observe import Observation, Observer, encode
from .probe import Probe
from .properties import NOT_TESTABLE, OBSERVATION

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

MANAGER_KEY = pytest.StashKey[InstanceManager]()


def _fail(message: str) -> NoReturn:
    """Fail the test with one line: no traceback, no chain of the exception that caused it."""
    raise pytest.fail.Exception(f"pytest-serve: {message}", pytrace=False) from None


def manager_of(config: pytest.Config) -> InstanceManager:
    return config.stash[MANAGER_KEY]


def _not_testable(request: pytest.FixtureRequest, reason: str) -> NoReturn:
    """Skip the test, marked so that its clause is graded "not testable" with `reason`."""
    request.node.user_properties.append((NOT_TESTABLE, reason))
    raise pytest.skip.Exception(f"not testable on this instance: {reason}", _use_item_location=True) from None


@pytest.fixture
def serve_instance(request: pytest.FixtureRequest) -> Adapter:
    """function scope · `Adapter` · the running instance under test, driven through its
    adapter (deploy, delete, base_url, …), with this test's `serve_http_options`/`serve_env`
    markers (the name is that of Ray's own test fixture). Started once per session and restarted only
    when a test needs other settings."""
    manager = manager_of(request.config)
    try:
        return manager.ensure(instance_config(request.node), needed_defaults(request.node))
    except NotTestableError as err:
        reason = str(err)
    except AdapterError as err:
        message = str(err)
        _fail(message)
    _not_testable(request, reason)


@pytest.fixture
def serve(request: pytest.FixtureRequest) -> ModuleType:
    """function scope · module · the Serve API of the implementation under test
    (`serve.deployment`, `serve.ingress`, ...), for deployments defined in tests.
    Does not start an instance by itself."""
    try:
        return manager_of(request.config).adapter.serve
    except AdapterError as err:
        message = str(err)
    _fail(message)


@pytest.fixture
def serve_module(
    serve: ModuleType, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., str]:
    """function scope · `serve_module(source, name=None) -> str` · writes `source` as an
    importable module, with `serve` already bound to the implementation's API, for the
    `import_path` of Serve config files; returns the module name. The modules' folder (one
    per session) is put on `sys.path` and `PYTHONPATH` (so out-of-process workers import
    it too) for the duration of the test; adapters whose workers started earlier have it
    on their path from the start (`Adapter.modules_dir`)."""
    directory = manager_of(request.config).modules_dir
    monkeypatch.syspath_prepend(str(directory))
    paths = [str(directory), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))

    def write(source: str, name: str | None = None) -> str:
        # Unique names: an earlier test's module of the same name may still be imported.
        name = name or f"serve_app_{uuid.uuid4().hex[:12]}"
        header = f"import {serve.__name__} as serve  # added by pytest-serve\n"
        (directory / f"{name}.py").write_text(header + textwrap.dedent(source), encoding="utf-8")
        return name

    return write


@pytest.fixture
def serve_http_timeout() -> float:
    """function scope · float · default 30 · timeout of the clients `serve_app` gives;
    override this fixture to change it."""
    return 30.0


@pytest.fixture
def serve_app(serve_instance: Adapter, serve_http_timeout: float) -> Iterator[Callable[..., DeployedApp]]:
    """function scope · `serve_app(app, route_prefix="/", name=None) -> DeployedApp` ·
    deploys `app` and deletes it (and closes its clients) at teardown."""
    deployed: list[DeployedApp] = []

    def deploy(app: Any, route_prefix: str | None = "/", name: str | None = None) -> DeployedApp:
        if name is None:
            name = "default" if not deployed else f"app{len(deployed) + 1}"
        failure: str | None
        try:
            handle = serve_instance.deploy(app, name=name, route_prefix=route_prefix)
        except Exception as err:
            # One line: Serve's message may run over several; Ray's names no cause, which
            # the failed deployments' status messages hold.
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            detail = " | ".join(lines + serve_instance.deployment_errors(name))
            failure = (
                f"deploying {app!r} as {name!r} at {route_prefix!r} on "
                f"{serve_instance.name} failed: {type(err).__name__}: {detail}"
            )
        else:
            failure = None
        if failure is not None:
            # A failed app stays (DEPLOY_FAILED, as on Ray); the next test must not meet it.
            with contextlib.suppress(Exception):
                serve_instance.delete(name)
            _fail(failure)
        result = _deployed(serve_instance, name, route_prefix, handle, serve_http_timeout)
        deployed.append(result)
        return result

    yield deploy
    for app in reversed(deployed):
        app.close()
        try:
            serve_instance.delete(app.name)
        except Exception:
            pass


def _deployed(adapter: Adapter, name: str, route_prefix: str | None, handle: Any, timeout: float) -> DeployedApp:
    """The app `name` on the instance `adapter` drives (without a URL where it has no HTTP)."""
    if adapter.no_http is not None:
        return DeployedApp(name, route_prefix, None, handle, timeout, no_http=adapter.no_http)
    return DeployedApp(name, route_prefix, adapter.base_url, handle, timeout)


@pytest.fixture
def serve_config(
    request: pytest.FixtureRequest, serve_http_timeout: float
) -> Iterator[Callable[..., list[DeployedApp]]]:
    """function scope · `serve_config(dict_or_path) -> list[DeployedApp]` · starts an instance
    from a Serve config file (its `http_options` apply; host and port are the plugin's) and
    deploys its applications. The next test gets a fresh instance."""
    manager = manager_of(request.config)
    made: list[DeployedApp] = []

    def deploy(config: Mapping[str, Any] | str | Path) -> list[DeployedApp]:
        data = _read_config(config)
        env = dict(instance_config(request.node).env)
        failure: str | None
        untestable: str | None = None
        try:
            names = manager.start_from_config(data, env)
        except NotTestableError as err:
            failure, untestable = None, str(err)
        except Exception as err:
            failure = f"deploying the Serve config failed: {err}"
        else:
            failure = None
        if untestable is not None:
            _not_testable(request, untestable)
        if failure is not None:
            _fail(failure)
        adapter = manager.adapter
        prefixes = {a.get("name", "default"): a.get("route_prefix", "/") for a in data.get("applications") or []}
        apps = [_deployed(adapter, n, prefixes.get(n, "/"), None, serve_http_timeout) for n in names]
        made.extend(apps)
        return apps

    yield deploy
    for app in made:
        app.close()
    # What runs now was made for this test: the next test's instance restarts (the
    # manager no longer counts it as running), so nothing need be stopped here.


def _read_config(config: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(config, Mapping):
        return dict(config)
    import yaml

    path = Path(config)
    failure: str | None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        failure = f"cannot read Serve config {str(path)!r}: {err}"
    else:
        failure = None if isinstance(data, dict) else f"Serve config {str(path)!r} is not a mapping"
    if failure is not None:
        _fail(failure)
    return dict(data)


@pytest.fixture
def serve_probe(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Probe:
    """function scope · `Probe` · an empty cross-process event log for this test; pass it to
    deployments (e.g. `.bind(serve_probe)`) and wait on what they record. Its channel is the
    adapter's choice: a file here, a Ray actor on a cluster whose replicas run elsewhere."""
    directory = tmp_path_factory.mktemp("serve-probe", numbered=True)
    try:
        return manager_of(request.config).adapter.make_probe(directory)
    except AdapterError as err:
        message = str(err)
    _fail(message)


@pytest.fixture
def serve_observe(request: pytest.FixtureRequest) -> Observer:
    """function scope · `Observer` · records what this test measured, against its clauses:
    `serve_observe.record("idle close after", 5.01, "s", expected="5 s")`. Each record
    goes into the test's `user_properties` (so xdist and `--junitxml` carry it) and into
    the certification report, per test and per clause."""
    item = request.node

    def keep(observation: Observation) -> None:
        item.user_properties.append((OBSERVATION, encode(observation)))

    return Observer(clause_ids(item), keep)
