"""Faults that break the SCH clauses (`serve.status()`, `ray.serve.schema`) of the reference."""

from __future__ import annotations

import dataclasses

from faulty import fault


def _wrap_status(mp, change):
    """Make `serve.status()` return `change(status)` (both names of the function)."""
    from reference_impl import api, serve

    original = api.status

    def status():
        return change(original())

    mp.setattr(api, "status", status)
    mp.setattr(serve, "status", status)


def _map_apps(status, change_app):
    apps = {name: change_app(app) for name, app in status.applications.items()}
    return dataclasses.replace(status, applications=apps)


@fault("sch-status-app-deploying", "SCH-1")
def _(mp):
    """Every application is reported DEPLOYING although it runs."""
    from reference_impl.schema import ApplicationStatus

    _wrap_status(
        mp,
        lambda s: _map_apps(s, lambda app: dataclasses.replace(app, status=ApplicationStatus.DEPLOYING)),
    )


@fault("sch-status-replica-states-empty", "SCH-1")
def _(mp):
    """Deployments report no replicas in `replica_states`."""

    def change_app(app):
        deployments = {name: dataclasses.replace(dep, replica_states={}) for name, dep in app.deployments.items()}
        return dataclasses.replace(app, deployments=deployments)

    _wrap_status(mp, lambda s: _map_apps(s, change_app))


@fault("sch-status-keeps-deleted-apps", "SCH-1")
def _(mp):
    """Deleted applications stay listed with their last status."""
    seen = {}

    def change(status):
        seen.update(status.applications)
        return dataclasses.replace(status, applications=dict(seen))

    _wrap_status(mp, change)


@fault("sch-logging-config-unchecked", "SCH-2")
def _(mp):
    """`LoggingConfig` takes any level, encoding and attribute names."""
    from pydantic import BaseModel, ConfigDict, Field

    from reference_impl import schema

    class LaxLoggingConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")

        encoding: str = "TEXT"
        log_level: int | str = "INFO"
        logs_dir: str | None = None
        enable_access_log: bool = True
        additional_log_standard_attrs: list[str] = Field(default_factory=list)

    mp.setattr(schema, "LoggingConfig", LaxLoggingConfig)


@fault("sch-deployment-logging-option-unchecked", "SCH-2")
def _(mp):
    """`@serve.deployment(logging_config=...)` and `.options()` keep any value unchecked."""
    from reference_impl import deployment

    mp.setattr(deployment, "deployment_logging_config", lambda value: value)


@fault("sch-run-logging-config-unchecked", "SCH-2")
def _(mp):
    """`serve.run(logging_config=...)` deploys whatever value it is given."""
    from reference_impl import api

    mp.setattr(api, "deployment_logging_config", lambda value: value)


@fault("sch-http-schema-guide-keep-alive", "SCH-3")
def _(mp):
    """`ServeDeploySchema`'s http_options default to a 5 s keep-alive, not Ray's 90 s."""
    from pydantic import Field

    from reference_impl import schema

    class GuideHTTPOptions(schema.HTTPOptionsSchema):
        keep_alive_timeout_s: int = 5

    class GuideDeploySchema(schema.ServeDeploySchema):
        http_options: GuideHTTPOptions = Field(default_factory=GuideHTTPOptions)

    mp.setattr(schema, "ServeDeploySchema", GuideDeploySchema)


@fault("sch-status-trigger-values-renamed", "SCH-3")
def _(mp):
    """`DeploymentStatusTrigger` lacks Ray's DELETING member."""
    from enum import Enum

    from reference_impl import schema

    members = {m.name: m.value for m in schema.DeploymentStatusTrigger if m.name != "DELETING"}
    mp.setattr(schema, "DeploymentStatusTrigger", Enum("DeploymentStatusTrigger", members, type=str))
