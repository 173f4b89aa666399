"""config.py: http_options and config-file validation, route prefixes, the keep-alive rule."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from reference_impl.config import (
    KEEP_ALIVE_ENV_VAR,
    ConfigError,
    HTTPOptions,
    effective_keep_alive,
    parse_http_options,
    validate_route_prefix,
)
from reference_impl.config_file import load_config
from reference_impl.schema import ServeDeploySchema

# -- http_options ------------------------------------------------------------------------


def test_http_options_defaults() -> None:
    """HTTPOptions() binds 127.0.0.1:8000 with a 5 s keep-alive and no limits."""
    options = parse_http_options(None)
    assert (options.host, options.port, options.keep_alive_timeout_s) == ("127.0.0.1", 8000, 5)
    assert options.request_timeout_s is None and options.max_request_body_bytes is None


def test_http_options_accepts_dict_and_model() -> None:
    """A dict is validated into HTTPOptions; an HTTPOptions passes through unchanged."""
    model = HTTPOptions(port=0)
    assert parse_http_options(model) is model
    assert parse_http_options({"port": 0, "keep_alive_timeout_s": "7"}).keep_alive_timeout_s == 7


@pytest.mark.parametrize(
    ("options", "field", "bad", "allowed"),
    [
        ({"prot": 1}, "prot", "1", "unknown field"),
        ({"port": "abc"}, "port", "'abc'", "valid integer"),
        ({"port": 70000}, "port", "70000", "less than or equal to 65535"),
        ({"port": -1}, "port", "-1", "greater than or equal to 0"),
        ({"keep_alive_timeout_s": -1}, "keep_alive_timeout_s", "-1", "greater than or equal to 0"),
        ({"keep_alive_timeout_s": "abc"}, "keep_alive_timeout_s", "'abc'", "valid integer"),
        ({"keep_alive_timeout_s": 1.5}, "keep_alive_timeout_s", "1.5", "fractional part"),
        ({"keep_alive_timeout_s": None}, "keep_alive_timeout_s", "None", "valid integer"),
        ({"host": ""}, "host", "''", "host name or IP address"),
        ({"request_timeout_s": 0}, "request_timeout_s", "0", "greater than 0"),
    ],
)
def test_http_options_error_names_field_value_and_rule(
    options: dict[str, Any], field: str, bad: str, allowed: str
) -> None:
    """Each invalid http_options value raises ConfigError naming field, value and rule."""
    with pytest.raises(ConfigError) as info:
        parse_http_options(options)
    message = str(info.value)
    assert message.startswith("Invalid http_options:")
    assert f"  {field}: " in message
    assert f"(got {bad})" in message or f"(value {bad})" in message
    assert allowed in message


def test_unknown_http_option_lists_allowed_fields() -> None:
    """The unknown-field error says which fields are allowed."""
    with pytest.raises(ConfigError) as info:
        parse_http_options({"keep_alive_timeout": 4})
    assert "keep_alive_timeout_s" in str(info.value) and "port" in str(info.value)


def test_http_options_must_be_a_mapping() -> None:
    """http_options of another type is rejected with the type's name."""
    with pytest.raises(ConfigError, match=r"^http_options must be a dict or HTTPOptions, got list"):
        parse_http_options([("port", 0)])  # type: ignore[arg-type]


def test_config_error_is_a_value_error() -> None:
    """ConfigError subclasses ValueError, the type Ray raises for the same mistakes."""
    assert issubclass(ConfigError, ValueError)


# -- config files ------------------------------------------------------------------------

VALID_YAML = """\
http_options:
  port: 0
  keep_alive_timeout_s: 4
applications:
  - name: app1
    route_prefix: /one
    import_path: pkg.mod:app
  - name: app2
    route_prefix: null
    import_path: pkg.mod.builder
    args: {greeting: hi}
"""


def test_load_config_reads_yaml(tmp_path: Path) -> None:
    """A valid YAML file yields its http_options and applications."""
    path = tmp_path / "serve.yaml"
    path.write_text(VALID_YAML)
    config = load_config(path)
    assert (config.http_options.port, config.http_options.keep_alive_timeout_s) == (0, 4)
    assert [(a.name, a.route_prefix, a.import_path) for a in config.applications] == [
        ("app1", "/one", "pkg.mod:app"),
        ("app2", None, "pkg.mod.builder"),
    ]
    assert config.applications[1].args == {"greeting": "hi"}


def test_load_config_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    """Broken YAML raises ConfigError naming the file and the line of the error."""
    path = tmp_path / "broken.yaml"
    path.write_text("http_options:\n  port: [1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"Serve config file {str(path)!r} is not valid YAML:")
    assert "line 2" in message


def test_load_config_missing_file(tmp_path: Path) -> None:
    """A missing file raises ConfigError naming the path and the OS reason."""
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (f"Cannot read Serve config file {str(path)!r}: No such file or directory")


def test_load_config_requires_a_mapping(tmp_path: Path) -> None:
    """A YAML document that is not a mapping is rejected with its type."""
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"must be a mapping .* got list$"):
        load_config(path)


@pytest.mark.parametrize(
    ("config", "expected_line"),
    [
        ({"http_options": {"port": "x"}}, "  http_options.port: Input should be a valid integer"),
        (
            {"applications": [{"import_path": "m:a", "deployments": [{"name": "d", "num_replicas": 0}]}]},
            "  applications.0.deployments.0.num_replicas",
        ),
        (
            {"applications": [{"import_path": "not a path"}]},
            "  applications.0.import_path: Value error, Got invalid import path",
        ),
        ({"applications": [{"name": "a"}]}, "  applications.0.import_path: Field required"),
    ],
)
def test_load_config_errors_name_the_dotted_field(config: dict[str, Any], expected_line: str) -> None:
    """A config error names the field by its dotted path and says what is wrong."""
    config.setdefault("applications", [])
    with pytest.raises(ConfigError) as info:
        load_config(config)
    lines = str(info.value).splitlines()
    assert lines[0] == "Invalid Serve config:"
    assert any(line.startswith(expected_line) for line in lines[1:]), lines


def test_load_config_rejects_duplicate_app_names() -> None:
    """Two applications with one name are rejected, naming the repeated name (Ray's words)."""
    apps = [
        {"name": "a", "route_prefix": "/a", "import_path": "m:a"},
        {"name": "a", "route_prefix": "/b", "import_path": "m:b"},
    ]
    with pytest.raises(
        ConfigError, match=r'Found multiple configs for application "a"\. Please remove all duplicates\.'
    ):
        load_config({"applications": apps})


def test_load_config_rejects_duplicate_route_prefixes() -> None:
    """Two applications on one route prefix are rejected, naming the prefix."""
    apps = [
        {"name": "a", "route_prefix": "/x", "import_path": "m:a"},
        {"name": "b", "route_prefix": "/x", "import_path": "m:b"},
    ]
    with pytest.raises(ConfigError, match=r'Found duplicate applications for route prefix "/x"\.'):
        load_config({"applications": apps})


def test_load_config_allows_several_apps_without_route() -> None:
    """Several route_prefix=None (handle-only) applications do not clash."""
    apps = [
        {"name": "a", "route_prefix": None, "import_path": "m:a"},
        {"name": "b", "route_prefix": None, "import_path": "m:b"},
    ]
    assert [a.route_prefix for a in load_config({"applications": apps}).applications] == [None] * 2


# -- route prefixes (observed §3) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("noslash", "Invalid route_prefix 'noslash', must start with a forward slash ('/')."),
        ("/trailing/", "Invalid route_prefix '/trailing/', may not end with a trailing '/'."),
        ("", "Invalid route_prefix '', must start with a forward slash ('/')."),
        ("/{x}", "Invalid route_prefix '/{x}', may not contain wildcards."),
    ],
)
def test_validate_route_prefix_uses_rays_messages(prefix: str, message: str) -> None:
    """Invalid prefixes raise ValueError with exactly Ray 2.60's message."""
    with pytest.raises(ValueError) as info:
        validate_route_prefix(prefix)
    assert str(info.value) == message


@pytest.mark.parametrize("prefix", ["/", "/a", "/a/b", "/with space", "//double", None])
def test_validate_route_prefix_accepts_what_ray_accepts(prefix: str | None) -> None:
    """Ray accepts spaces, '//' and None (handle-only); they come back unchanged."""
    assert validate_route_prefix(prefix) == prefix


def test_validate_route_prefix_rejects_non_strings() -> None:
    """A prefix that is neither str nor None is a ValueError, not an AttributeError."""
    with pytest.raises(ValueError, match="must be a string starting with '/' or None"):
        validate_route_prefix(5)  # type: ignore[arg-type]


# -- keep-alive (observed §6) --------------------------------------------------------------


def test_keep_alive_default_is_five_seconds() -> None:
    """Without option or env, the keep-alive timeout is 5 s."""
    assert effective_keep_alive(HTTPOptions(), {}) == 5


def test_keep_alive_from_options() -> None:
    """http_options.keep_alive_timeout_s sets it (0 is allowed)."""
    assert effective_keep_alive(HTTPOptions(keep_alive_timeout_s=4), {}) == 4
    assert effective_keep_alive(HTTPOptions(keep_alive_timeout_s=0), {}) == 0


def test_keep_alive_env_beats_options() -> None:
    """The environment variable wins over http_options (KA-4)."""
    assert effective_keep_alive(HTTPOptions(keep_alive_timeout_s=4), {KEEP_ALIVE_ENV_VAR: "3"}) == 3


@pytest.mark.parametrize(("configured", "expected"), [({}, 5), ({"keep_alive_timeout_s": 4}, 4)])
def test_keep_alive_env_zero_means_unset(configured: dict[str, int], expected: int) -> None:
    """Env '0' is Ray's 'not set': the option, else the default, applies."""
    assert effective_keep_alive(HTTPOptions(**configured), {KEEP_ALIVE_ENV_VAR: "0"}) == expected


def test_keep_alive_reads_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no environ given, os.environ is read at the call (not at import)."""
    monkeypatch.setenv(KEEP_ALIVE_ENV_VAR, "11")
    assert effective_keep_alive(HTTPOptions()) == 11


ENV_VALUE = f"Environment variable `{KEEP_ALIVE_ENV_VAR}` value"


@pytest.mark.parametrize(
    ("raw", "ray_message"),
    [
        ("abc", f"{ENV_VALUE} `abc` cannot be converted to `int`!"),
        ("2.5", f"{ENV_VALUE} `2.5` cannot be converted to `int`!"),
        ("", f"{ENV_VALUE} `` cannot be converted to `int`!"),
        (
            "-1",
            f"Got unexpected value `-1` for `{KEEP_ALIVE_ENV_VAR}` environment variable! Expected non negative `int`.",
        ),
    ],
)
def test_keep_alive_bad_env_raises_rays_message(raw: str, ray_message: str) -> None:
    """A bad env value raises a ValueError that starts with Ray 2.60's message."""
    with pytest.raises(ValueError) as info:
        effective_keep_alive(HTTPOptions(), {KEEP_ALIVE_ENV_VAR: raw})
    assert str(info.value).startswith(ray_message)


def test_fields_ray_ignores_are_ignored_and_named(caplog: pytest.LogCaptureFixture) -> None:
    """Ray's config models ignore keys they do not have (forward compatibility); so does
    the reference, naming each one in one warning, with its path, so a typo is seen."""
    config = {
        "bogus": 1,
        "http_options": {"prot": 1, "request_header_timeout_s": 2},
        "applications": [{"name": "a", "import_path": "m:a", "deployments": [{"name": "D", "num_replica": 2}]}],
    }
    with caplog.at_level(logging.WARNING, logger="reference_impl"):
        loaded = load_config(config)
    assert loaded.applications[0].deployments[0].model_dump(exclude_unset=True) == {"name": "D"}
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings
    assert warnings[0].endswith(
        "ignored as Ray ignores them: bogus, http_options.prot, applications[a].deployments[D].num_replica"
    )


def test_route_prefix_is_checked_as_a_deploy_checks_it() -> None:
    """As in Ray 2.60, the schema takes any route_prefix (a deploy is what refuses it);
    load_config makes the deploy's check up front, so nothing starts."""
    app = {"import_path": "m:a", "route_prefix": "x"}
    assert ServeDeploySchema.model_validate({"applications": [app]}).applications[0].route_prefix == "x"
    with pytest.raises(ConfigError, match=r"applications\.0\.route_prefix: .*must start with a forward slash"):
        load_config({"applications": [app]})
