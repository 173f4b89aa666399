"""Validated settings: `http_options`, Serve config files, and the keep-alive rule.

Everything a user hands us is checked here, at the call that received it, with an
error that names the field, the bad value and what is allowed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .autoscaling import AggregationFunction, AutoscalingConfig, AutoscalingPolicy
from .unavailable import ray_names_getattr

__all__ = [
    "DEFAULT_KEEP_ALIVE_TIMEOUT_S",
    "DEFAULT_MAX_REQUEST_HEADER_BYTES",
    "DEFAULT_REQUEST_HEADER_TIMEOUT_S",
    "KEEP_ALIVE_ENV_VAR",
    "AggregationFunction",
    "AutoscalingConfig",
    "AutoscalingPolicy",
    "BackpressureConfig",
    "ConfigError",
    "ControllerOptions",
    "HTTPOptions",
    "ProxyLocation",
    "RequestRouterConfig",
    "describe_error",
    "effective_keep_alive",
    "gRPCOptions",
    "parse_backpressure_config",
    "parse_http_options",
    "validate_route_prefix",
]

# The guide's figure; Ray 2.60 itself defaults to 90 s (see docs/reference-impl.md).
DEFAULT_KEEP_ALIVE_TIMEOUT_S = 5
KEEP_ALIVE_ENV_VAR = "RAY_SERVE_HTTP_KEEP_ALIVE_TIMEOUT_S"
# Production servers cap a request's head at 8-64 KiB and give it about a minute.
DEFAULT_MAX_REQUEST_HEADER_BYTES = 64 * 1024
DEFAULT_REQUEST_HEADER_TIMEOUT_S = 30.0
# Ray's values for `http_options.location` and `proxy_location`; one process has one
# proxy whatever they say, so they are checked and otherwise ignored.
Location = Literal["HeadOnly", "EveryNode", "NoServer", "Disabled"]


_Model = TypeVar("_Model", bound=BaseModel)


class ProxyLocation(str, Enum):
    """Where Ray runs HTTP proxies; the reference always runs one, in-process."""

    Disabled = "Disabled"
    HeadOnly = "HeadOnly"
    EveryNode = "EveryNode"


class gRPCOptions(BaseModel):
    """`serve.start(grpc_options=...)` as Ray's model. The reference serves no gRPC, so
    servicer functions (which would make Ray serve it) are refused rather than dropped."""

    model_config = ConfigDict(defer_build=True)

    port: int = 9000
    grpc_servicer_functions: list[str] = Field(default_factory=list)
    request_timeout_s: float | None = None
    enable_reflection: bool = True

    @field_validator("grpc_servicer_functions")
    @classmethod
    def _no_servicers(cls, value: list[str]) -> list[str]:
        if value:
            raise ValueError(
                "the reference implementation does not serve gRPC yet; test the gRPC ingress on Ray (--serve-impl=ray)"
            )
        return value


class ControllerOptions(BaseModel):
    """Options of Ray's Serve controller actor (`serve.run(controller_options=...)`): only
    `runtime_env.env_vars`, as on Ray. The reference has no controller actor, so they are
    accepted and change nothing."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    runtime_env: dict[str, Any] | None = None

    @field_validator("runtime_env")
    @classmethod
    def _env_vars_only(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        extra = sorted(set(value or {}) - {"env_vars"})
        if extra:
            raise ValueError(f"only `env_vars` is supported in runtime_env, got {extra}")
        return value


class RequestRouterConfig(BaseModel):
    """How Ray's handles pick a replica (`request_router_config=`). The reference's router
    is its own (least busy replica first, FIFO wait), so the settings are checked as Ray
    checks them and change nothing."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    request_router_class: str | Any = "ray.serve._private.request_router:PowerOfTwoChoicesRequestRouter"
    request_router_kwargs: dict[str, Any] = Field(default_factory=dict)
    request_routing_stats_period_s: float = Field(10.0, gt=0)
    request_routing_stats_timeout_s: float = Field(30.0, gt=0)
    initial_backoff_s: float = Field(0.025, gt=0)
    backoff_multiplier: float = Field(2.0, gt=0)
    max_backoff_s: float = Field(0.5, gt=0)


class ConfigError(ValueError):
    """A setting is invalid; the message names the field and what is allowed."""


class HTTPOptions(BaseModel):
    """Settings of the HTTP proxy, fixed when the instance starts (Ray's `HTTPOptions`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Interface to bind.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port; 0 picks a free one.")
    root_path: str = Field("", description="ASGI root_path prefix for every app.")
    keep_alive_timeout_s: int = Field(
        DEFAULT_KEEP_ALIVE_TIMEOUT_S,
        ge=0,
        description="Seconds an idle keep-alive connection stays open.",
    )
    request_timeout_s: float | None = Field(
        None, gt=0, description="End-to-end request timeout; past it the client gets 408."
    )
    max_request_body_bytes: int | None = Field(
        None, gt=0, description="Larger request bodies are rejected with 413 (None: no limit)."
    )
    max_request_header_bytes: int | None = Field(
        DEFAULT_MAX_REQUEST_HEADER_BYTES,
        ge=1024,
        description="Largest request head (request line and headers) read; a larger one gets 431 "
        "and its connection closes, having read no more than this (None: no limit, as in Ray).",
    )
    request_header_timeout_s: float | None = Field(
        DEFAULT_REQUEST_HEADER_TIMEOUT_S,
        gt=0,
        description="Seconds a client has to send a request's head, from the connection's opening "
        "(first request) or the request's first byte (later ones); then the connection closes "
        "(None: no bound, as in Ray).",
    )
    # HTTPS, as Ray's proxy serves it when both files are given (uvicorn's own options).
    ssl_keyfile: str | None = Field(None, description="Private key file; with ssl_certfile, the proxy serves HTTPS.")
    ssl_certfile: str | None = Field(None, description="Certificate file; with ssl_keyfile, the proxy serves HTTPS.")
    ssl_keyfile_password: str | None = Field(None, description="Password of ssl_keyfile.")
    ssl_ca_certs: str | None = Field(None, description="CA certificates to check client certificates against.")
    # Accepted for compatibility with Ray configs; a single process has one proxy, on no
    # cluster node: where it runs, its CPUs and its public URL change nothing here.
    location: Location | None = None
    num_cpus: int = Field(0, ge=0, description="CPUs Ray reserves for each proxy (no effect in one process).")
    root_url: str = Field("", description="The URL Ray reports for the proxy (no effect in one process).")
    middlewares: list[Any] = Field(default_factory=list, description="Not served by the reference: must be empty.")

    @field_validator("middlewares")
    @classmethod
    def _no_middlewares(cls, value: list[Any]) -> list[Any]:
        if value:
            raise ValueError(
                "the reference implementation does not run proxy middlewares; wrap the app "
                "(`serve.ingress`) in the middleware instead, or run on Ray (--serve-impl=ray)"
            )
        return value

    @model_validator(mode="after")
    def _ssl_pair(self) -> HTTPOptions:
        if (self.ssl_keyfile is None) != (self.ssl_certfile is None):
            raise ValueError("ssl_keyfile and ssl_certfile must be given together, for the proxy to serve HTTPS")
        return self

    @field_validator("host")
    @classmethod
    def _host_not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("must be a host name or IP address, e.g. '127.0.0.1'")
        return value

    @field_validator("root_path")
    @classmethod
    def _root_path_form(cls, value: str) -> str:
        # NOTE: requests are matched against root_path + "/" + route; "api" or "/api/"
        # would make every route unreachable, so they are refused here instead.
        if value and (not value.startswith("/") or value.endswith("/")):
            raise ValueError("must be '' or a path starting with '/' and not ending with '/', e.g. '/api'")
        return value


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed where `loc` points (to explain an unknown field)."""
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[str(part)].annotation
        inner = getattr(annotation, "__args__", None) or (annotation,)
        nested = next((t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)), None)
        if nested is None:
            return []
        model = nested
    return sorted(model.model_fields)


def describe_error(err: ValidationError, what: str, model: type[BaseModel]) -> str:
    """A validation error as lines naming each bad field, what it got and what is allowed."""
    lines = [f"Invalid {what}:"]
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(root)"
        bad = e.get("input")
        if e["type"] == "extra_forbidden":
            allowed = ", ".join(_allowed_fields(model, tuple(e["loc"])))
            lines.append(f"  {field}: unknown field (value {bad!r}); allowed fields: {allowed}")
        else:
            lines.append(f"  {field}: {e['msg']} (got {bad!r})")
    return "\n".join(lines)


def parse_http_options(options: HTTPOptions | Mapping[str, Any] | None) -> HTTPOptions:
    """Validate `http_options` given as a dict or an `HTTPOptions`."""
    return _parse(HTTPOptions, options, "http_options")


def _parse(model: type[_Model], value: _Model | Mapping[str, Any] | None, what: str) -> _Model:
    """`value` as a `model`: None gives the defaults, a dict is validated."""
    if value is None:
        return model()
    if isinstance(value, model):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must be a dict or {model.__name__}, got {type(value).__name__}")
    try:
        return model(**value)
    except ValidationError as err:
        raise ConfigError(describe_error(err, what, model)) from None


class BackpressureConfig(BaseModel):
    """The HTTP answer to a request over `max_queued_requests` (Ray 2.60's deployment
    option `backpressure_config`): 503 or 429, with `Retry-After` when set."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    status_code: Literal[503, 429] = 503
    retry_after_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)


def parse_backpressure_config(config: BackpressureConfig | Mapping[str, Any] | None) -> BackpressureConfig:
    """Validate a deployment's `backpressure_config` given as a dict or a `BackpressureConfig`."""
    return _parse(BackpressureConfig, config, "backpressure_config")


def validate_route_prefix(route_prefix: str | None) -> str | None:
    """Ray's rules, with Ray's messages: leading '/', no trailing '/', no wildcards."""
    if route_prefix is None:
        return None
    if not isinstance(route_prefix, str):
        raise ValueError(f"Invalid route_prefix {route_prefix!r}: must be a string starting with '/' or None.")
    if not route_prefix.startswith("/"):
        raise ValueError(f"Invalid route_prefix '{route_prefix}', must start with a forward slash ('/').")
    if route_prefix != "/" and route_prefix.endswith("/"):
        raise ValueError(f"Invalid route_prefix '{route_prefix}', may not end with a trailing '/'.")
    if "{" in route_prefix or "}" in route_prefix:
        raise ValueError(f"Invalid route_prefix '{route_prefix}', may not contain wildcards.")
    return route_prefix


def keep_alive_from_env(environ: Mapping[str, str]) -> int | None:
    """The env override, Ray's way: unset or `0` means "not set"; bad values raise."""
    raw = environ.get(KEEP_ALIVE_ENV_VAR)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"Environment variable `{KEEP_ALIVE_ENV_VAR}` value `{raw}` cannot be converted "
            "to `int`! Set it to a whole number of seconds, or unset it."
        ) from None
    if value < 0:
        raise ConfigError(
            f"Got unexpected value `{value}` for `{KEEP_ALIVE_ENV_VAR}` environment variable! "
            "Expected non negative `int`."
        )
    return value or None


def effective_keep_alive(options: HTTPOptions, environ: Mapping[str, str] | None = None) -> int:
    """KA-1..KA-4 in one place: the env var beats `keep_alive_timeout_s`, which beats 5 s."""
    from_env = keep_alive_from_env(os.environ if environ is None else environ)
    return options.keep_alive_timeout_s if from_env is None else from_env


# Ray's names this module lacks: importing them works, using them says to run on Ray
# (hidden from type checkers, which would otherwise accept any name from this module).
if not TYPE_CHECKING:
    __getattr__ = ray_names_getattr("ray.serve.config")
