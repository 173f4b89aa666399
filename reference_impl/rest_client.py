"""`reference-serve deploy|status|config|shutdown`: Ray's `serve` client commands, talking to
the REST API of a running reference (or of a Ray cluster's dashboard), with Ray's output.

As Ray's `ServeSubmissionClient`: the address must be http(s)://; the version endpoint is
checked first; a request that fails raises with the status code and the body.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx

from . import ray_yaml

__all__ = ["DEFAULT_ADDRESS", "RestClient", "RestError", "render_config", "render_status"]

DEFAULT_ADDRESS = os.environ.get("RAY_DASHBOARD_ADDRESS", "http://localhost:8265")
APPLICATIONS_PATH = "/api/serve/applications/"
TIMEOUT_S = 30.0


class RestError(RuntimeError):
    """The REST API could not be reached or refused a request."""


class RestClient:
    def __init__(self, address: str) -> None:
        if not address.startswith(("http://", "https://")):
            raise RestError(
                f"Got an unexpected address {address!r} while trying to connect to the dashboard's REST "
                "API: it must start with http:// or https:// (set it with --address or $RAY_DASHBOARD_ADDRESS)."
            )
        self.address = address.rstrip("/")
        self._client = httpx.Client(base_url=self.address, timeout=TIMEOUT_S, trust_env=False)
        version = self._request("GET", "/api/ray/version", what="Version check")
        self.ray_version = version.json().get("ray_version")

    def _request(self, method: str, path: str, *, what: str = "Request", json: Any = None) -> httpx.Response:
        try:
            response = self._client.request(method, path, json=json)
        except httpx.TransportError as err:
            raise RestError(f"Failed to connect to Ray at address: {self.address} ({err}).") from None
        if response.status_code == 404 and what == "Version check":
            raise RestError(f"Version check returned 404: {self.address} does not serve Serve's REST API.")
        if response.status_code != 200:
            raise RestError(f"{what} failed with status code {response.status_code}: {response.text}.")
        return response

    def details(self) -> dict[str, Any]:
        data: dict[str, Any] = self._request("GET", APPLICATIONS_PATH).json()
        return data

    def deploy(self, config: Mapping[str, Any]) -> None:
        self._request("PUT", APPLICATIONS_PATH, json=dict(config))

    def shutdown(self) -> None:
        self._request("DELETE", APPLICATIONS_PATH)

    def close(self) -> None:
        self._client.close()


def render_status(details: Mapping[str, Any], name: str | None = None) -> str | None:
    """`serve status` (None when the named app does not exist)."""
    applications = {
        app_name: {
            "status": app["status"],
            "message": app["message"],
            "last_deployed_time_s": app["last_deployed_time_s"],
            "deployments": {
                dep_name: {
                    "status": dep["status"],
                    "status_trigger": dep["status_trigger"],
                    "replica_states": _replica_states(dep["replicas"]),
                    "message": dep["message"],
                }
                for dep_name, dep in app["deployments"].items()
            },
        }
        for app_name, app in details.get("applications", {}).items()
    }
    if name is not None:
        return ray_yaml.dump(applications[name]) if name in applications else None
    proxies = {node: proxy["status"] for node, proxy in details.get("proxies", {}).items()}
    return ray_yaml.dump(
        {"proxies": proxies, "applications": applications, "target_capacity": details.get("target_capacity")}
    )


def _replica_states(replicas: list[Mapping[str, Any]]) -> dict[str, int]:
    states: dict[str, int] = {}
    for replica in replicas:
        states[replica["state"]] = states.get(replica["state"], 0) + 1
    return states


def render_config(details: Mapping[str, Any], name: str | None = None) -> str:
    """`serve config`: each app's deployed config, as Ray prints it."""
    applications = details.get("applications", {})
    if name is not None:
        config = (applications.get(name) or {}).get("deployed_app_config")
        return f'No config has been deployed for application "{name}".\n' if config is None else ray_yaml.dump(config)
    configs = [ray_yaml.dump(app["deployed_app_config"]) for app in applications.values() if app["deployed_app_config"]]
    return "\n---\n\n".join(configs) if configs else "No configuration was found.\n"
