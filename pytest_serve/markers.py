"""The plugin's markers and how a test's markers become an `InstanceConfig`."""

from __future__ import annotations

import pytest

from .manager import InstanceConfig

__all__ = ["MARKERS", "clause_ids", "instance_config", "needed_defaults"]

MARKERS = (
    "serve_http_options(**options): start the Serve instance for this test with these "
    "http_options (e.g. keep_alive_timeout_s=2); tests with equal options share an instance.",
    "serve_env(**variables): set these environment variables while the Serve instance "
    "starts (e.g. RAY_SERVE_HTTP_KEEP_ALIVE_TIMEOUT_S='3').",
    "serve_fresh_instance: start a Serve instance for this test alone, on which nothing was "
    "deployed before (on Ray, Serve restarts and Ray itself is kept).",
    "serve_needs_defaults(*options): this test checks the implementation's defaults of these "
    "http_options (e.g. 'keep_alive_timeout_s'); on a running cluster that sets them otherwise "
    "it is graded not testable.",
    "clause(*ids): the conformance clause(s) this test checks, e.g. clause('CAN-3'); "
    "used for --clause selection and the certification report.",
    "serve_known_difference(reason): this test is known to end differently on some "
    "implementations, for this reason; `pytest-serve diff` lists it apart and does not count it.",
)


def instance_config(item: pytest.Item) -> InstanceConfig:
    """Merge the item's `serve_http_options`/`serve_env` markers (closest wins), with its
    `serve_fresh_instance` mark."""
    options: dict[str, object] = {}
    env: dict[str, str] = {}
    for marker in reversed(list(item.iter_markers("serve_http_options"))):
        if marker.args:
            raise pytest.UsageError(
                f"{item.nodeid}: serve_http_options takes keyword arguments only, "
                f"e.g. serve_http_options(keep_alive_timeout_s=2); got {marker.args!r}"
            )
        options.update(marker.kwargs)
    for marker in reversed(list(item.iter_markers("serve_env"))):
        if marker.args:
            raise pytest.UsageError(
                f"{item.nodeid}: serve_env takes keyword arguments only, "
                f"e.g. serve_env(RAY_SERVE_HTTP_KEEP_ALIVE_TIMEOUT_S='3'); got {marker.args!r}"
            )
        env.update({k: str(v) for k, v in marker.kwargs.items()})
    for reserved in ("host", "port"):
        if reserved in options:
            raise pytest.UsageError(
                f"{item.nodeid}: serve_http_options({reserved}=...) is chosen by pytest-serve "
                "(127.0.0.1 and a free port); remove it"
            )
    fresh_for = item.nodeid if item.get_closest_marker("serve_fresh_instance") else None
    return InstanceConfig.of(options, env, fresh_for)


def clause_ids(item: pytest.Item) -> list[str]:
    ids: list[str] = []
    for marker in item.iter_markers("clause"):
        for arg in marker.args:
            if not isinstance(arg, str):
                raise pytest.UsageError(f"{item.nodeid}: clause() takes clause ID strings, got {arg!r}")
            ids.append(arg)
    return ids


def needed_defaults(item: pytest.Item) -> tuple[str, ...]:
    """The http_options whose defaults the item checks (its `serve_needs_defaults` markers)."""
    names: list[str] = []
    for marker in item.iter_markers("serve_needs_defaults"):
        for arg in marker.args:
            if not isinstance(arg, str) or marker.kwargs:
                raise pytest.UsageError(
                    f"{item.nodeid}: serve_needs_defaults takes http_options names, "
                    f"e.g. serve_needs_defaults('keep_alive_timeout_s'); got {marker.args!r} {marker.kwargs!r}"
                )
            names.append(arg)
    return tuple(sorted(set(names)))
