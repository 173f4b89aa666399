"""The part of Ray's dashboard REST API that Serve's CLI uses, served by a running reference:
`GET /api/ray/version` and `GET|PUT|DELETE /api/serve/applications/`.

Ray's own `serve deploy|status|config|shutdown --address http://HOST:PORT` work against it,
as `reference-serve` does. As on Ray (measured on 2.60): a PUT is validated at once (400 with
pydantic's message) and applied in the background, the apps it lists show DEPLOYING until
then, an app that fails to build shows DEPLOY_FAILED with the traceback; GET answers Ray's
`ServeInstanceDetails`; DELETE shuts Serve down (200 whether it ran or not).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import threading
import traceback
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from . import api
from .build import RAY_VERSION
from .config import HTTPOptions, RequestRouterConfig
from .instance import RunningApp, RunningDeployment
from .runtime.http_server import start_server
from .runtime.loops import LoopThread
from .schema import ApplicationStatus, ServeApplicationSchema, ServeDeploySchema

__all__ = ["RestAPI", "instance_details"]

APPLICATIONS_PATH = "/api/serve/applications/"
# Ray's dashboard version of its REST API (`GET /api/ray/version` "version").
API_VERSION = "4"
SHUTDOWN_TIMEOUT_S = 60.0


class RestAPI:
    """The REST API on its own port (Ray's dashboard port, 8265 by default), apart from
    Serve's proxy: it outlives a `DELETE` (Serve's shutdown) and a later PUT starts Serve."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8265) -> None:
        self._loop = LoopThread("serve-rest-api")
        # One deploy at a time, in order, as Ray's controller applies configs.
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="serve-rest-deploy")
        self._lock = threading.Lock()
        self._pending: dict[str, ServeApplicationSchema] = {}
        self._failed: dict[str, tuple[str, ServeApplicationSchema]] = {}
        app = Starlette(
            routes=[
                Route("/api/ray/version", self._version, methods=["GET"]),
                Route(APPLICATIONS_PATH, self._details, methods=["GET"]),
                Route(APPLICATIONS_PATH, self._put, methods=["PUT"]),
                Route(APPLICATIONS_PATH, self._delete, methods=["DELETE"]),
            ]
        )
        self._server = start_server(app, HTTPOptions(host=host, port=port), 5, self._loop)

    @property
    def url(self) -> str:
        return self._server.url

    def stop(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
        self._server.stop()
        self._loop.stop()

    # -- endpoints ---------------------------------------------------------------------

    async def _version(self, request: Request) -> Response:
        session = f"session_reference_{os.getpid()}"
        return JSONResponse(
            {"version": API_VERSION, "ray_version": RAY_VERSION, "ray_commit": "reference", "session_name": session}
        )

    async def _details(self, request: Request) -> Response:
        with self._lock:
            pending, failed = dict(self._pending), dict(self._failed)
        return JSONResponse(instance_details(pending, failed))

    async def _put(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError as err:
            return PlainTextResponse(f"Request body is not JSON: {err}", status_code=400)
        try:
            config = ServeDeploySchema.model_validate(body)
        except ValidationError as err:
            return PlainTextResponse(str(err), status_code=400)
        with self._lock:
            for app in config.applications:
                self._pending[app.name] = app
        self._worker.submit(self._apply, config)
        return Response(status_code=200)

    def _apply(self, config: ServeDeploySchema) -> None:
        failures: dict[str, str] = {}
        try:
            api.run_config(config, on_app_error=lambda name, err: failures.__setitem__(name, _traceback(err)))
        except Exception as err:  # the instance could not start: every app failed
            failures = {app.name: _traceback(err) for app in config.applications}
        with self._lock:
            for app in config.applications:
                self._pending.pop(app.name, None)
                if app.name in failures:
                    self._failed[app.name] = (failures[app.name], app)
                else:
                    self._failed.pop(app.name, None)
            listed = {app.name for app in config.applications}
            for name in [n for n in self._failed if n not in listed]:
                del self._failed[name]

    async def _delete(self, request: Request) -> Response:
        with self._lock:
            self._pending.clear()
            self._failed.clear()
        await asyncio.wait_for(asyncio.to_thread(api.shutdown), SHUTDOWN_TIMEOUT_S)
        return Response(status_code=200)


def _traceback(err: BaseException) -> str:
    return "".join(traceback.format_exception(err)).rstrip()


# -- Ray's ServeInstanceDetails ---------------------------------------------------------------


def instance_details(
    pending: dict[str, ServeApplicationSchema] | None = None,
    failed: dict[str, tuple[str, ServeApplicationSchema]] | None = None,
) -> dict[str, Any]:
    """What Ray's `GET /api/serve/applications/` answers, for the running reference (the
    same fields; node, actor and worker IDs are this process's)."""
    instance = api.running_instance()
    if instance is None:
        return {"controller_info": {}, "proxies": {}, "applications": {}, "target_capacity": None}
    node = {"node_id": api.NODE_ID, "node_ip": instance.http_options.host, "node_instance_id": ""}
    pid = os.getpid()
    applications = {name: _app_details(app, node, pid) for name, app in list(instance.apps.items())}
    for name, (message, config) in (failed or {}).items():
        applications[name] = _placeholder(config, ApplicationStatus.DEPLOY_FAILED, message)
    for name, config in (pending or {}).items():
        if name in applications:
            applications[name]["status"] = ApplicationStatus.DEPLOYING.value
        else:
            applications[name] = _placeholder(config, ApplicationStatus.DEPLOYING, "")
    http = instance.http_options
    return {
        "controller_info": {**node, "actor_name": "SERVE_CONTROLLER_ACTOR", "log_file_path": None},
        "proxy_location": "EveryNode",
        "http_options": {
            "host": http.host,
            "port": instance.server.port,
            "root_path": http.root_path,
            "request_timeout_s": http.request_timeout_s,
            "keep_alive_timeout_s": instance.keep_alive_timeout_s,
            "ssl_keyfile": http.ssl_keyfile,
            "ssl_certfile": http.ssl_certfile,
            "ssl_keyfile_password": None,
            "ssl_ca_certs": http.ssl_ca_certs,
        },
        "grpc_options": {
            "port": 9000,
            "grpc_servicer_functions": [],
            "request_timeout_s": None,
            "enable_reflection": True,
        },
        "proxies": {
            api.NODE_ID: {**node, "actor_name": f"SERVE_PROXY_ACTOR-{api.NODE_ID}", "status": "HEALTHY"},
        },
        "applications": applications,
        "target_capacity": None,
    }


def _app_details(app: RunningApp, node: dict[str, Any], pid: int) -> dict[str, Any]:
    return {
        "name": app.name,
        "route_prefix": app.route_prefix,
        "docs_path": None,
        "status": app.status.value,
        "message": app.message,
        "last_deployed_time_s": api.last_deployed_time_s(app.name),
        "deployed_app_config": _config_dump(app.config),
        "source": "declarative" if app.config is not None else "imperative",
        "deployments": {
            name: _deployment_details(app.name, dep, node, pid) for name, dep in list(app.deployments.items())
        },
        "external_scaler_enabled": False,
    }


def _placeholder(config: ServeApplicationSchema, status: ApplicationStatus, message: str) -> dict[str, Any]:
    """An app Ray knows of before (or without) its build: no route, no deployments."""
    return {
        "name": config.name,
        "route_prefix": None,
        "docs_path": None,
        "status": status.value,
        "message": message,
        "last_deployed_time_s": api.last_deployed_time_s(config.name),
        "deployed_app_config": _config_dump(config),
        "source": "declarative",
        "deployments": {},
        "external_scaler_enabled": config.external_scaler_enabled,
    }


def _config_dump(config: ServeApplicationSchema | None) -> dict[str, Any] | None:
    """What was set, in the schema's order and types (as Ray echoes it)."""
    return None if config is None else json.loads(config.model_dump_json(exclude_unset=True))


def _deployment_details(app_name: str, dep: RunningDeployment, node: dict[str, Any], pid: int) -> dict[str, Any]:
    opts = dep.deployment.options_
    actor_options = dict(opts.ignored.get("ray_actor_options") or {})
    actor_options.setdefault("num_cpus", 1.0)  # Ray's replica default
    backpressure = opts.backpressure_config
    config: dict[str, Any] = {
        "name": dep.deployment.name,
        "num_replicas": opts.num_replicas,
        "max_ongoing_requests": opts.max_ongoing_requests,
        "max_queued_requests": opts.max_queued_requests,
        "backpressure_config": {
            "status_code": 503 if backpressure is None else backpressure.status_code,
            "retry_after_s": None if backpressure is None else backpressure.retry_after_s,
        },
        "user_config": opts.user_config,
        "graceful_shutdown_wait_loop_s": 2.0,
        "graceful_shutdown_timeout_s": opts.graceful_shutdown_timeout_s,
        "health_check_period_s": opts.health_check_period_s,
        "health_check_timeout_s": opts.health_check_timeout_s,
        "ray_actor_options": actor_options,
        "request_router_config": RequestRouterConfig().model_dump(),
        "rolling_update_percentage": opts.rolling_update_percentage,
        "max_surge_percent": 0,
    }
    replicas = [
        {
            **node,
            "actor_id": replica.actor_id,
            "actor_name": f"SERVE_REPLICA::{app_name}#{dep.deployment.name}#{replica.context.replica_id.unique_id}",
            "replica_id": replica.context.replica_id.unique_id,
            "state": "RUNNING",
            "pid": pid,
            "start_time_s": replica.start_time_s,
        }
        for replica in list(dep.replicas)
    ]
    return {
        "name": dep.deployment.name,
        "status": dep.status.value,
        "status_trigger": dep.trigger.value,
        "message": dep.message,
        "deployment_config": config,
        "target_num_replicas": opts.num_replicas,
        "required_resources": {"CPU": actor_options["num_cpus"]},
        "replicas": replicas,
        "recent_dead_replicas": [],
    }
