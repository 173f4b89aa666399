"""Config and environment errors (ERR-2): one clear error at start, naming the field and
what is allowed; nothing started, nothing left behind, and a valid start works after.

Covers every field of `http_options`, `route_prefix`, the Serve config file (also
through the `reference-serve` command) and `RAY_SERVE_HTTP_KEEP_ALIVE_TIMEOUT_S`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from resources import Usage

from reference_impl import api, serve
from reference_impl.config import KEEP_ALIVE_ENV_VAR, ConfigError
from reference_impl.exceptions import AddressUnavailableError

CLI_TIMEOUT_S = 60.0


@serve.deployment
def ok() -> str:
    return "ok"


# A module-level app for the config files' import_path.
app = ok.bind()
IMPORT_PATH = f"{__name__}:app"


@pytest.fixture
def nothing_starts() -> Iterator[Callable[[Callable[[], Any]], BaseException]]:
    """Function scope · `fails(call, chained=False) -> error` · runs `call`, which must
    raise one error (without a chained cause, unless `chained`) and leave no instance,
    thread, fd or socket behind."""
    serve.start(http_options={"port": 0})  # process-wide one-time state (uvloop's pipe)
    serve.shutdown()
    before = Usage.now()

    def fails(call: Callable[[], Any], chained: bool = False) -> BaseException:
        with pytest.raises(Exception) as info:
            call()
        error = info.value
        alone = error.__cause__ is None and (error.__suppress_context__ or error.__context__ is None)
        assert alone or chained, f"the error chains another one: {error!r} from {error.__context__!r}"
        assert api.running_instance() is None, "an instance started despite the error"
        assert Usage.now() == before, Usage.now().diff(before)
        return error

    yield fails
    serve.start(http_options={"port": 0})  # a valid start works afterwards
    assert api.running_instance() is not None


def _explains(error: BaseException, *parts: str) -> None:
    message = str(error)
    missing = [part for part in parts if part not in message]
    assert not missing, f"the error does not say {missing}:\n{message}"
    assert "Traceback" not in message


# -- http_options -------------------------------------------------------------------------------

HTTP_OPTIONS = [
    # (options, field, what the message must say is allowed)
    ({"host": ""}, "host", "host name or IP address"),
    ({"host": 5}, "host", "valid string"),
    ({"port": -1}, "port", "greater than or equal to 0"),
    ({"port": 65536}, "port", "less than or equal to 65535"),
    ({"port": "http"}, "port", "valid integer"),
    ({"port": 80.5}, "port", "valid integer"),
    ({"root_path": "api"}, "root_path", "starting with '/'"),
    ({"root_path": "/api/"}, "root_path", "not ending with '/'"),
    ({"root_path": 5}, "root_path", "valid string"),
    ({"keep_alive_timeout_s": "abc"}, "keep_alive_timeout_s", "valid integer"),
    ({"keep_alive_timeout_s": -1}, "keep_alive_timeout_s", "greater than or equal to 0"),
    ({"keep_alive_timeout_s": 1.5}, "keep_alive_timeout_s", "valid integer"),
    ({"keep_alive_timeout_s": None}, "keep_alive_timeout_s", "valid integer"),
    ({"request_timeout_s": 0}, "request_timeout_s", "greater than 0"),
    ({"request_timeout_s": -5}, "request_timeout_s", "greater than 0"),
    ({"request_timeout_s": "soon"}, "request_timeout_s", "valid number"),
    ({"max_request_body_bytes": 0}, "max_request_body_bytes", "greater than 0"),
    ({"max_request_body_bytes": "1MB"}, "max_request_body_bytes", "valid integer"),
    ({"max_request_body_bytes": 1.5}, "max_request_body_bytes", "valid integer"),
    ({"max_request_header_bytes": 100}, "max_request_header_bytes", "greater than or equal to 1024"),
    ({"max_request_header_bytes": "64KB"}, "max_request_header_bytes", "valid integer"),
    ({"max_request_header_bytes": 2048.5}, "max_request_header_bytes", "valid integer"),
    ({"request_header_timeout_s": 0}, "request_header_timeout_s", "greater than 0"),
    ({"request_header_timeout_s": -1}, "request_header_timeout_s", "greater than 0"),
    ({"request_header_timeout_s": "1m"}, "request_header_timeout_s", "valid number"),
    ({"location": "Anywhere"}, "location", "'HeadOnly', 'EveryNode', 'NoServer' or 'Disabled'"),
    ({"prot": 0}, "prot", "allowed fields: host, keep_alive_timeout_s, location"),
]


@pytest.mark.parametrize(
    ("options", "field", "allowed"), HTTP_OPTIONS, ids=[f"{f}={o[f]!r}" for o, f, _ in HTTP_OPTIONS]
)
def test_invalid_http_option_fails_start_naming_field(
    nothing_starts: Callable[..., BaseException], options: dict[str, Any], field: str, allowed: str
) -> None:
    """serve.start(http_options=...) with one bad field raises one ConfigError naming the
    field, the value and what is allowed; nothing starts."""
    error = nothing_starts(lambda: serve.start(http_options={"port": 0, **options}))
    assert isinstance(error, ConfigError)
    _explains(error, "Invalid http_options:", f"{field}: ", allowed)


def test_http_options_of_the_wrong_type(nothing_starts: Callable[..., BaseException]) -> None:
    """http_options given as a list: one ConfigError naming what is expected."""
    error = nothing_starts(lambda: serve.start(http_options=[("port", 0)]))
    _explains(error, "http_options must be a dict or HTTPOptions, got list")


@pytest.mark.parametrize(
    ("host", "reason"),
    [("192.0.2.1", "Cannot assign requested address"), ("no-such-host.invalid", "")],
    ids=["not-local", "unresolvable"],
)
def test_host_that_cannot_be_bound(nothing_starts: Callable[..., BaseException], host: str, reason: str) -> None:
    """A host that is not an address of this machine, or does not resolve: one
    AddressUnavailableError naming host:port and the http_options fields to check."""
    error = nothing_starts(lambda: serve.start(http_options={"host": host, "port": 0}))
    assert isinstance(error, AddressUnavailableError)
    _explains(error, f"'{host}:0'", reason, "http_options.host")


# -- route_prefix ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "rule"),
    [
        ("api", "must start with a forward slash"),
        ("", "must start with a forward slash"),
        ("/api/", "may not end with a trailing '/'"),
        ("/api/{id}", "may not contain wildcards"),
        (5, "must be a string starting with '/' or None"),
    ],
)
def test_invalid_route_prefix_fails_before_deploying(instance: Any, prefix: Any, rule: str) -> None:
    """serve.run(app, route_prefix=bad): one ValueError naming route_prefix and the rule;
    nothing is deployed and the running instance keeps serving."""
    with pytest.raises(ValueError) as info:
        serve.run(ok.bind(), name="bad", route_prefix=prefix)
    _explains(info.value, "route_prefix", rule)
    assert serve.status().applications == {}


# -- config files -----------------------------------------------------------------------------------


def _app(**fields: Any) -> dict[str, Any]:
    return {"name": "a", "route_prefix": "/a", "import_path": IMPORT_PATH, **fields}


CONFIG_FILES: list[tuple[str, Any, tuple[str, ...]]] = [
    ("not YAML", "applications: [\n  - name: a\n    import_path: x:y\n  bad", ("is not valid YAML",)),
    ("a list", [_app()], ("must be a mapping with 'http_options' and 'applications', got list",)),
    (
        "misspelt applications",
        {"aplications": [_app()]},
        ("applications:", "Field required"),
    ),
    (
        "bad http_options.port",
        {"http_options": {"port": "eighty"}, "applications": []},
        ("http_options.port:", "valid integer"),
    ),
    (
        "bad http_options.keep_alive_timeout_s",
        {"http_options": {"keep_alive_timeout_s": -3}, "applications": []},
        ("http_options.keep_alive_timeout_s:", "greater than or equal to 0"),
    ),
    ("bad proxy_location", {"proxy_location": "Everywhere", "applications": []}, ("proxy_location:", "'HeadOnly'")),
    (
        "bad route_prefix",
        {"applications": [_app(route_prefix="a")]},
        ("applications.0.route_prefix:", "must start with a forward slash"),
    ),
    (
        "bad import_path",
        {"applications": [_app(import_path="not a path")]},
        ("applications.0.import_path:", "Got invalid import path"),
    ),
    ("missing import_path", {"applications": [{"name": "a"}]}, ("applications.0.import_path:", "Field required")),
    ("repeated names", {"applications": [_app(), _app(route_prefix="/b")]}, ('multiple configs for application "a"',)),
    (
        "repeated prefixes",
        {"applications": [_app(), _app(name="b")]},
        ('duplicate applications for route prefix "/a"',),
    ),
]


def _write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "serve.yaml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content), encoding="utf-8")
    return path


@pytest.mark.parametrize(("what", "content", "parts"), CONFIG_FILES, ids=[c[0] for c in CONFIG_FILES])
def test_invalid_config_file_fails_naming_the_field(
    nothing_starts: Callable[..., BaseException], tmp_path: Path, what: str, content: Any, parts: tuple[str, ...]
) -> None:
    """serve.run_config(path) with one mistake: one ConfigError naming the file, the field
    (dotted path) and what is allowed; nothing starts."""
    path = _write(tmp_path, content)
    error = nothing_starts(lambda: serve.run_config(str(path)))
    assert isinstance(error, ConfigError)
    _explains(error, str(path), *parts)


def test_missing_config_file(nothing_starts: Callable[..., BaseException], tmp_path: Path) -> None:
    error = nothing_starts(lambda: serve.run_config(str(tmp_path / "absent.yaml")))
    _explains(error, "Cannot read Serve config file", "absent.yaml", "No such file or directory")


def test_config_import_path_that_does_not_import(nothing_starts: Callable[..., BaseException], tmp_path: Path) -> None:
    """An import_path whose module does not exist: ImportError naming the import path,
    raised before the instance starts (chained to the original ImportError, whose
    traceback shows where in the user's module the import failed)."""
    path = _write(tmp_path, {"applications": [_app(import_path="no_such_module_x:app")]})
    error = nothing_starts(lambda: serve.run_config(str(path)), chained=True)
    assert isinstance(error, ImportError)
    _explains(error, "no_such_module_x", "import_path 'no_such_module_x:app'")


# -- the keep-alive environment variable ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("abc", "cannot be converted to `int`"),
        ("2.5", "cannot be converted to `int`"),
        ("", "cannot be converted to `int`"),
        ("1e3", "cannot be converted to `int`"),
        ("-1", "Expected non negative `int`"),
    ],
)
def test_invalid_keep_alive_env_fails_start(
    nothing_starts: Callable[..., BaseException], monkeypatch: pytest.MonkeyPatch, value: str, rule: str
) -> None:
    """RAY_SERVE_HTTP_KEEP_ALIVE_TIMEOUT_S that is not a non-negative integer: serve.start
    raises one ConfigError naming the variable, the value and the rule (Ray fails the
    same way, at import)."""
    monkeypatch.setenv(KEEP_ALIVE_ENV_VAR, value)
    error = nothing_starts(lambda: serve.start(http_options={"port": 0}))
    assert isinstance(error, ConfigError)
    _explains(error, f"`{KEEP_ALIVE_ENV_VAR}`", f"`{value}`", rule)
    monkeypatch.delenv(KEEP_ALIVE_ENV_VAR)


# -- the command line -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "env", "parts"),
    [
        (
            {"http_options": {"port": 0, "root_path": "api/"}, "applications": []},
            {},
            ("http_options.root_path:", "starting with '/'"),
        ),
        (
            {"http_options": {"port": 0}, "applications": [_app()]},
            {KEEP_ALIVE_ENV_VAR: "soon"},
            (KEEP_ALIVE_ENV_VAR, "`soon`"),
        ),
    ],
    ids=["config-file", "env"],
)
def test_cli_reports_one_line_and_exits_2(
    tmp_path: Path, content: Any, env: dict[str, str], parts: tuple[str, ...]
) -> None:
    """`python -m reference_impl run bad.yaml`: exit code 2, the error on stderr as one
    message without a traceback, and no 'Serving on' line."""
    path = _write(tmp_path, content)
    tests_dir = str(Path(__file__).parents[1])
    result = subprocess.run(
        [sys.executable, "-m", "reference_impl", "run", str(path), "--app-dir", tests_dir],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env={**_clean_env(), **env},
    )
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Serving on" not in result.stdout
    assert result.stderr.startswith("reference-serve: error: ")
    for part in parts:
        assert part in result.stderr, result.stderr


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != KEEP_ALIVE_ENV_VAR}
