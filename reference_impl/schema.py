"""`ray.serve.schema`: the models and status types Serve apps import, as in Ray 2.60.

Field names, defaults, enum values and validation messages follow Ray 2.60 (see
docs/reference-impl.md for the measured facts and the few deliberate differences).
The config models are pydantic v2 models, like Ray's: `model_dump()`,
`model_validate()` and `model_dump(exclude_unset=True)` behave the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .config import ProxyLocation, gRPCOptions
from .unavailable import ray_names_getattr

__all__ = [
    "ApplicationStatus",
    "ApplicationStatusOverview",
    "DeploymentSchema",
    "DeploymentStatus",
    "DeploymentStatusOverview",
    "DeploymentStatusTrigger",
    "EncodingType",
    "HTTPOptionsSchema",
    "LoggingConfig",
    "ProxyLocation",
    "ProxyStatus",
    "RayActorOptionsSchema",
    "ReplicaRank",
    "ReplicaState",
    "ServeApplicationSchema",
    "ServeDeploySchema",
    "ServeStatus",
    "TracingConfig",
    "gRPCOptionsSchema",
]

# The attributes of a `logging.LogRecord` that `additional_log_standard_attrs` may name.
LOGRECORD_STANDARD_ATTRS = frozenset(
    {
        "args",
        "asctime",
        "created",
        "exc_info",
        "exc_text",
        "filename",
        "funcName",
        "levelname",
        "levelno",
        "lineno",
        "message",
        "module",
        "msecs",
        "msg",
        "name",
        "pathname",
        "process",
        "processName",
        "relativeCreated",
        "stack_info",
        "thread",
        "threadName",
        "taskName",
    }
)
# Ray 2.60 fixes the default log encoding at "TEXT".
DEFAULT_LOG_ENCODING = "TEXT"
DEFAULT_APP_NAME = "default"


# -- logging and tracing ----------------------------------------------------------------


class EncodingType(str, Enum):
    """Encoding of Serve's log records."""

    TEXT = "TEXT"
    JSON = "JSON"


def _braced(items: list[Any]) -> str:
    """A set's repr in a fixed order (Ray prints a set, whose order varies by run)."""
    return "{" + ", ".join(repr(item) for item in items) + "}"


def _name_to_level() -> dict[str, int]:
    # logging.getLevelNamesMapping() is Python 3.11+; before, only the private dict.
    mapping = getattr(logging, "getLevelNamesMapping", None)
    return mapping() if mapping is not None else dict(logging._nameToLevel)


def _level_names() -> list[str]:
    return list(_name_to_level())


def _level_numbers() -> list[int]:
    return list(dict.fromkeys(_name_to_level().values()))


class LoggingConfig(BaseModel):
    """Logging options of Serve's components, an app or one deployment.

    The reference validates them as Ray does and otherwise leaves Python's logging
    configuration to the app: it writes no Serve log files.
    """

    model_config = ConfigDict(defer_build=True, extra="forbid")

    encoding: str | EncodingType = Field(default_factory=lambda: DEFAULT_LOG_ENCODING)
    log_level: int | str = "INFO"
    logs_dir: str | None = None
    enable_access_log: bool = True
    additional_log_standard_attrs: list[str] = Field(default_factory=list)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: Any) -> Any:
        if value not in list(EncodingType):
            allowed = _braced(sorted(EncodingType, key=lambda member: member.value))
            raise ValueError(f"Got '{value}' for encoding. Encoding must be one of {allowed}.")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: int | str) -> str:
        # NOTE: an int level is stored as its name (10 -> "DEBUG"), as Ray does.
        if isinstance(value, int):
            if value not in _level_numbers():
                raise ValueError(f'Got "{value}" for log_level. log_level must be one of {_level_numbers()}.')
            return logging.getLevelName(value)
        if value not in _level_names():
            raise ValueError(f'Got "{value}" for log_level. log_level must be one of {_level_names()}.')
        return value

    @field_validator("additional_log_standard_attrs")
    @classmethod
    def _known_attrs(cls, value: list[str]) -> list[str]:
        for attr in value:
            if attr not in LOGRECORD_STANDARD_ATTRS:
                raise ValueError(
                    f"Unknown attribute '{attr}'. Additional log standard attributes must be "
                    f"one of {_braced(sorted(LOGRECORD_STANDARD_ATTRS))}."
                )
        return sorted(set(value))

    def _key(self) -> tuple[str, str, str, str]:
        return (str(self.encoding), str(self.log_level), str(self.logs_dir), str(self.enable_access_log))

    def __eq__(self, other: object) -> bool:
        # As in Ray: equal when encoding, level, directory and access log agree;
        # `additional_log_standard_attrs` is not compared.
        if not isinstance(other, LoggingConfig):
            return False
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]


class TracingConfig(BaseModel):
    """Distributed-tracing options (`serve.start(tracing_config=...)`); accepted, not used."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    enabled: bool = False
    exporter_import_path: str = ""
    sampling_ratio: float = 0.01

    @field_validator("sampling_ratio")
    @classmethod
    def _ratio(cls, value: float) -> float:
        if value < 0.0 or value > 1.0:
            raise ValueError(f"sampling_ratio must be between 0.0 and 1.0, got {value}.")
        return value


class _DeploymentLoggingOption(BaseModel):
    """The `logging_config` option of a deployment, checked as Ray's DeploymentConfig does."""

    model_config = ConfigDict(defer_build=True, title="DeploymentConfig")

    logging_config: dict[Any, Any] | None = None

    @field_validator("logging_config")
    @classmethod
    def _complete(cls, value: dict[Any, Any] | None) -> dict[str, Any] | None:
        return None if value is None else LoggingConfig(**value).model_dump()


def deployment_logging_config(value: Any) -> dict[str, Any] | None:
    """A deployment's (or `serve.run`'s) `logging_config`, dict or LoggingConfig, as the
    complete dict Ray stores; bad values raise pydantic's ValidationError, as in Ray."""
    if isinstance(value, LoggingConfig):
        value = value.model_dump()
    return _DeploymentLoggingOption(logging_config=value).logging_config


def global_logging_config(value: Any) -> LoggingConfig:
    """`serve.start(logging_config=...)`: None, a dict or a LoggingConfig."""
    if value is None:
        return LoggingConfig()
    if isinstance(value, LoggingConfig):
        return value
    if isinstance(value, dict):
        return LoggingConfig(**value)
    # NOTE: Ray 2.60 passes any other value to its controller, which then dies while
    # starting; the reference refuses it at the call instead.
    raise TypeError(f"logging_config must be a dict or a LoggingConfig, got {type(value).__name__}")


# -- statuses ------------------------------------------------------------------------------


class ReplicaState(str, Enum):
    STARTING = "STARTING"
    UPDATING = "UPDATING"
    RECOVERING = "RECOVERING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    PENDING_MIGRATION = "PENDING_MIGRATION"


class DeploymentStatus(str, Enum):
    UPDATING = "UPDATING"
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"
    DEPLOY_FAILED = "DEPLOY_FAILED"
    UPSCALING = "UPSCALING"
    DOWNSCALING = "DOWNSCALING"

    def to_numeric(self) -> int:
        """Ray's gauge value: worst (1, DEPLOY_FAILED) to best (6, HEALTHY); 0 is unknown."""
        order = ["DEPLOY_FAILED", "UNHEALTHY", "UPDATING", "UPSCALING", "DOWNSCALING", "HEALTHY"]
        return order.index(self.value) + 1


class DeploymentStatusTrigger(str, Enum):
    """Why a deployment has its current status."""

    UNSPECIFIED = "UNSPECIFIED"
    CONFIG_UPDATE_STARTED = "CONFIG_UPDATE_STARTED"
    CONFIG_UPDATE_COMPLETED = "CONFIG_UPDATE_COMPLETED"
    UPSCALE_COMPLETED = "UPSCALE_COMPLETED"
    DOWNSCALE_COMPLETED = "DOWNSCALE_COMPLETED"
    AUTOSCALING = "AUTOSCALING"
    REPLICA_STARTUP_FAILED = "REPLICA_STARTUP_FAILED"
    DEPLOYMENT_ACTOR_FAILED = "DEPLOYMENT_ACTOR_FAILED"
    HEALTH_CHECK_FAILED = "HEALTH_CHECK_FAILED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    DELETING = "DELETING"


class ApplicationStatus(str, Enum):
    NOT_STARTED = "NOT_STARTED"
    DEPLOYING = "DEPLOYING"
    DEPLOY_FAILED = "DEPLOY_FAILED"
    RUNNING = "RUNNING"
    UNHEALTHY = "UNHEALTHY"
    DELETING = "DELETING"

    def to_numeric(self) -> int:
        """Ray's gauge value: worst (1, DEPLOY_FAILED) to best (6, RUNNING); 0 is unknown."""
        order = ["DEPLOY_FAILED", "UNHEALTHY", "NOT_STARTED", "DELETING", "DEPLOYING", "RUNNING"]
        return order.index(self.value) + 1


class ProxyStatus(str, Enum):
    STARTING = "STARTING"
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"
    DRAINING = "DRAINING"
    DRAINED = "DRAINED"

    def to_numeric(self) -> int:
        return list(ProxyStatus).index(self) + 1


@dataclass
class DeploymentStatusOverview:
    """One deployment in `serve.status()`: its status, why, and replicas per state."""

    status: DeploymentStatus
    status_trigger: DeploymentStatusTrigger
    replica_states: dict[str, int]
    message: str


@dataclass
class ApplicationStatusOverview:
    """One application in `serve.status()`."""

    status: ApplicationStatus
    message: str
    last_deployed_time_s: float
    deployments: dict[str, DeploymentStatusOverview]


@dataclass(eq=True)
class ServeStatus:
    """What `serve.status()` returns: proxies by node ID, and the live applications."""

    proxies: dict[str, ProxyStatus] = field(default_factory=dict)
    applications: dict[str, ApplicationStatusOverview] = field(default_factory=dict)
    # NOTE: Ray 2.60's own default here is a pydantic FieldInfo object (seen when Serve
    # is not running); the reference says None, Ray's value once Serve runs.
    target_capacity: float | None = None


# -- config models ----------------------------------------------------------------------


class RayActorOptionsSchema(BaseModel):
    """`ray_actor_options` of a deployment; the reference accepts and ignores them."""

    model_config = ConfigDict(defer_build=True)

    runtime_env: dict[str, Any] = Field(default_factory=dict)
    num_cpus: float | None = Field(default=None, ge=0)
    num_gpus: float | None = Field(default=None, ge=0)
    memory: float | None = Field(default=None, ge=0)
    resources: dict[str, Any] = Field(default_factory=dict)
    accelerator_type: str | None = None
    label_selector: dict[str, str] | None = None
    fallback_strategy: list[dict[str, Any]] | None = None


class DeploymentSchema(BaseModel):
    """Options of one deployment in a config file, overriding those in code.

    Every option but `name` defaults to None meaning "not set" (Ray uses a private
    sentinel); `model_dump(exclude_unset=True)` gives what was set, as in Ray.
    """

    model_config = ConfigDict(defer_build=True, populate_by_name=True)

    name: str
    num_replicas: PositiveInt | str | None = None
    max_ongoing_requests: int | None = Field(default=None, gt=0)
    max_queued_requests: StrictInt | None = None
    backpressure_config: dict[str, Any] | None = None
    user_config: dict[Any, Any] | None = None
    autoscaling_config: dict[str, Any] | None = None
    graceful_shutdown_wait_loop_s: float | None = Field(default=None, ge=0)
    graceful_shutdown_timeout_s: float | None = Field(default=None, ge=0)
    health_check_period_s: float | None = Field(default=None, gt=0)
    health_check_timeout_s: float | None = Field(default=None, gt=0)
    ray_actor_options: RayActorOptionsSchema | None = None
    placement_group_bundles: list[dict[str, float]] | None = None
    placement_group_strategy: str | None = None
    placement_group_bundle_label_selector: list[dict[str, str]] | None = None
    max_replicas_per_node: int | None = None
    logging_config: LoggingConfig | None = None
    request_router_config: dict[str, Any] | None = None
    gang_scheduling_config: dict[str, Any] | None = None
    deployment_actors: list[dict[str, Any]] | None = None
    rolling_update_percentage: float | None = Field(default=None, gt=0.0, le=1.0)
    max_surge_percent: int | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="before")
    @classmethod
    def _replicas_or_autoscaling(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        num_replicas = values.get("num_replicas")
        if isinstance(num_replicas, int):
            if values.get("autoscaling_config") is not None:
                raise ValueError("Manually setting num_replicas is not allowed when autoscaling_config is provided.")
        elif num_replicas not in ("auto", None):
            raise ValueError(f'`num_replicas` must be an int or "auto", but got: {num_replicas}')
        return values

    @model_validator(mode="after")
    def _queue_limit(self) -> DeploymentSchema:
        limit = self.max_queued_requests
        if limit is not None and limit < 1 and limit != -1:
            raise ValueError("max_queued_requests must be -1 (no limit) or a positive integer.")
        if self.max_replicas_per_node is not None and self.placement_group_bundles is not None:
            raise ValueError("Setting max_replicas_per_node is not allowed when placement_group_bundles is provided.")
        return self

    def is_autoscaling_configured(self) -> bool:
        return self.num_replicas == "auto" or self.autoscaling_config is not None


def _check_import_path(value: str) -> str:
    if ":" in value:
        if value.count(":") > 1:
            raise ValueError(f'Got invalid import path "{value}". An import path may have at most one colon.')
        if value.rfind(":") in (0, len(value) - 1):
            raise ValueError(f'Got invalid import path "{value}". An import path may not start or end with a colon.')
        return value
    if value.count(".") < 1:
        raise ValueError(
            f'Got invalid import path "{value}". An import path must contain at least on dot '
            "or colon separating the module (and potentially submodules) from the deployment "
            'graph. E.g.: "module.deployment_graph".'
        )
    if value.rfind(".") in (0, len(value) - 1):
        raise ValueError(f'Got invalid import path "{value}". An import path may not start or end with a dot.')
    return value


class ServeApplicationSchema(BaseModel):
    """One application of a config file."""

    model_config = ConfigDict(defer_build=True)

    name: str = DEFAULT_APP_NAME
    # NOTE: Ray 2.60 does not check route_prefix here; serve.run and deploys do.
    route_prefix: str | None = "/"
    import_path: str
    runtime_env: dict[str, Any] = Field(default_factory=dict)
    host: str = "0.0.0.0"
    port: int = 8000
    deployments: list[DeploymentSchema] = Field(default_factory=list)
    autoscaling_policy: dict[str, Any] | None = None
    args: dict[Any, Any] = Field(default_factory=dict)
    logging_config: LoggingConfig | None = None
    external_scaler_enabled: bool = False

    @property
    def deployment_names(self) -> list[str]:
        return [d.name for d in self.deployments]

    @field_validator("import_path")
    @classmethod
    def _import_path(cls, value: str) -> str:
        return _check_import_path(value)

    @model_validator(mode="after")
    def _external_scaler(self) -> ServeApplicationSchema:
        if self.external_scaler_enabled:
            names = [d.name for d in self.deployments if d.is_autoscaling_configured()]
            if names:
                listed = ", ".join(f'"{name}"' for name in names)
                raise ValueError(
                    "external_scaler_enabled is set to True, but the following deployment(s) "
                    f"have autoscaling configured: {listed}. When using an external "
                    "autoscaler, Serve's built-in autoscaling must be disabled for all "
                    "deployments in the application."
                )
        return self


class HTTPOptionsSchema(BaseModel):
    """`http_options` of a config file, with Ray 2.60's defaults (keep-alive 90 s). Other
    keys are kept (Ray ignores them): the reference's own HTTP options are among them."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    host: str = "0.0.0.0"
    port: int = 8000
    root_path: str = ""
    request_timeout_s: float | None = None
    keep_alive_timeout_s: int = 90
    ssl_keyfile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile_password: str | None = None
    ssl_ca_certs: str | None = None

    @field_validator("ssl_certfile")
    @classmethod
    def _ssl_pair(cls, value: str | None, info: ValidationInfo) -> str | None:
        keyfile = info.data.get("ssl_keyfile")
        if bool(value) != bool(keyfile):
            raise ValueError("Both ssl_keyfile and ssl_certfile must be provided together to enable HTTPS.")
        return value


class gRPCOptionsSchema(gRPCOptions):
    """`grpc_options` of a config file: the fields of `serve.start`'s `gRPCOptions`."""


class ServeDeploySchema(BaseModel):
    """A whole Serve config file: instance options and the applications."""

    model_config = ConfigDict(defer_build=True)

    proxy_location: ProxyLocation = ProxyLocation.EveryNode
    http_options: HTTPOptionsSchema = Field(default_factory=HTTPOptionsSchema)
    grpc_options: gRPCOptionsSchema = Field(default_factory=gRPCOptionsSchema)
    controller_options: dict[str, Any] | None = None
    logging_config: LoggingConfig | None = None
    tracing_config: TracingConfig | None = None
    applications: list[ServeApplicationSchema]
    target_capacity: float | None = Field(default=None, ge=0, le=100)

    @field_validator("applications")
    @classmethod
    def _unique_apps(cls, apps: list[ServeApplicationSchema]) -> list[ServeApplicationSchema]:
        names = [a.name for a in apps]
        repeated = sorted({f'"{n}"' for n in names if names.count(n) > 1})
        if repeated:
            what = "application " if len(repeated) == 1 else "applications "
            raise ValueError(f"Found multiple configs for {what}{', '.join(repeated)}. Please remove all duplicates.")
        prefixes = [a.route_prefix for a in apps if a.route_prefix is not None]
        repeated = sorted({f'"{p}"' for p in prefixes if prefixes.count(p) > 1})
        if repeated:
            what = "route prefix " if len(repeated) == 1 else "route prefixes "
            raise ValueError(
                f"Found duplicate applications for {what}{', '.join(repeated)}. Please ensure "
                "each application's route_prefix is unique."
            )
        if any(not a.name for a in apps):
            raise ValueError("Application names must be nonempty.")
        return apps

    @model_validator(mode="after")
    def _no_per_app_host_port(self) -> ServeDeploySchema:
        for app in self.applications:
            if "host" in app.model_fields_set:
                raise ValueError(
                    f'Host "{app.host}" is set in the config for application `{app.name}`. '
                    "Please remove it and set host in the top level deploy config only."
                )
            if "port" in app.model_fields_set:
                raise ValueError(
                    f"Port {app.port} is set in the config for application `{app.name}`. "
                    "Please remove it and set port in the top level deploy config only."
                )
        return self


class ReplicaRank(BaseModel):
    """A replica's rank in its deployment (`serve.get_replica_context().rank`)."""

    model_config = ConfigDict(defer_build=True)

    rank: int
    node_rank: int
    local_rank: int


# Ray's names this module lacks: importing them works, using them says to run on Ray
# (hidden from type checkers, which would otherwise accept any name from this module).
if not TYPE_CHECKING:
    __getattr__ = ray_names_getattr("ray.serve.schema")
