"""The clause catalogue: every promise of the guide, with its stable ID.

Documented, with how each clause is tested, in docs/clauses.md. IDs are never
reused or renumbered; a test links to a clause only through
`@pytest.mark.clause("CAN-3")`. `CATALOGUE_HASH` identifies this exact text in
certification reports.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "API",
    "CATALOGUE_HASH",
    "CLAUSES",
    "DOCUMENTED",
    "GROUPS",
    "GUIDE",
    "RECOMMENDED",
    "TIERS",
    "Clause",
    "get",
]

DOCUMENTED = "documented"
RECOMMENDED = "recommended"

# Tiers of the catalogue. "CERTIFIED" means the HTTP-guide tier; the second tier, the
# Serve API that real apps use beyond the guide, gets a verdict of its own beside it.
GUIDE: Final = "guide"
API: Final = "api"
TIERS: dict[str, str] = {
    GUIDE: 'HTTP guide ("Set Up FastAPI and HTTP")',
    API: "Serve API beyond the HTTP guide",
}

GROUPS: dict[str, str] = {
    "ING": "HTTP ingress",
    "RET": "What a handler returns",
    "PFX": "Route prefix",
    "CAN": "Request cancellation",
    "FA": "FastAPI integration",
    "WS": "WebSockets",
    "STR": "Streaming responses",
    "KA": "Keep-alive",
    "ERR": "Errors (beyond the guide)",
    "OPS": "Operations (beyond the guide)",
    # Second tier: the Serve API beyond the HTTP guide.
    "BAT": "Request batching (`@serve.batch`)",
    "MUX": "Model multiplexing (`@serve.multiplexed`)",
    "HDL": "Deployment handles (streaming, composition, options)",
    "CTX": "Replica context and `user_config`",
    "SCH": "Schema models and status (`ray.serve.schema`)",
    "MET": "Custom metrics (`ray.serve.metrics`)",
    "RID": "Request IDs",
    "ASG": "Ingress forms and route matching (`serve.ingress`)",
    "RDP": "Redeploying a running application",
    "BP": "Backpressure (`max_queued_requests`)",
    "HLT": "The proxy's `/-/healthz` and `/-/routes`",
    "DEP": "Deployment options as Ray checks and reports them",
    "LIF": "A replica's life: failed deploys, shutdown hooks, health checks",
    "VAL": "Values and errors across a handle call",
    "CFG": "Serve config files (`serve deploy` / `serve run config.yaml`)",
}

_SECOND_TIER_GROUPS = frozenset(
    {"BAT", "MUX", "HDL", "CTX", "SCH", "MET", "ASG", "RID", "RDP", "BP", "HLT", "LIF", "DEP", "VAL", "CFG"}
)


@dataclass(frozen=True)
class Clause:
    id: str
    level: str  # DOCUMENTED (the guide promises it) or RECOMMENDED (reported apart)
    text: str

    @property
    def group(self) -> str:
        return self.id.split("-", 1)[0]

    @property
    def title(self) -> str:
        return GROUPS[self.group]

    @property
    def tier(self) -> Literal["guide", "api"]:
        return API if self.group in _SECOND_TIER_GROUPS else GUIDE


_CLAUSES = (
    Clause(
        "ING-1",
        DOCUMENTED,
        "The ingress deployment of an app started with `serve.run(app)` is exposed over HTTP; the default address is `http://127.0.0.1:8000` and the default route prefix is `/`.",
    ),
    Clause(
        "ING-2",
        DOCUMENTED,
        "A request to the app's prefix is routed to the ingress deployment's `__call__`, with a Starlette `Request` as its only argument.",
    ),
    Clause(
        "ING-3",
        DOCUMENTED,
        "`__call__` (or a function deployment) that takes no request argument is still called (the guide's `startled` and `SnoringSleeper` examples).",
    ),
    Clause(
        "ING-4",
        DOCUMENTED,
        "Function deployments (`@serve.deployment` on an `async def` or `def`) serve HTTP like classes do.",
    ),
    Clause(
        "RET-1",
        DOCUMENTED,
        'Any JSON-serializable return value becomes the JSON response body (`application/json`). Ray answers a plain `str` as `text/plain; charset=utf-8` with the string itself as body, and `bytes`/`None` as `text/plain`; follow Ray there (see the observed table). Inside a FastAPI route, FastAPI\'s own encoding applies (`"Hello, world!"` is a JSON string).',
    ),
    Clause(
        "RET-2",
        DOCUMENTED,
        'Returning `request.query_params` yields a JSON object of the parameters: `GET /?a=b&c=d` → `{"a": "b", "c": "d"}`.',
    ),
    Clause(
        "RET-3",
        DOCUMENTED,
        "A returned Starlette `Response` is sent as is: custom status code, custom headers, body and media type are preserved.",
    ),
    Clause(
        "PFX-1",
        DOCUMENTED,
        '`serve.run(app, route_prefix="/x")` moves the app from `/` to `/x`; paths outside every app\'s prefix are not routed to it (404).',
    ),
    Clause(
        "PFX-2", DOCUMENTED, "The same route prefix can be set in a Serve config file (`applications[].route_prefix`)."
    ),
    Clause("PFX-3", DOCUMENTED, "With a plain `__call__` ingress, sub-paths under the prefix reach `__call__`."),
    Clause("PFX-4", DOCUMENTED, "With several apps, a request goes to the app with the longest matching prefix."),
    Clause(
        "CAN-1",
        DOCUMENTED,
        "A request that runs past the end-to-end timeout (`http_options.request_timeout_s`) is cancelled; the client gets a timeout response (Ray answers 408).",
    ),
    Clause(
        "CAN-2",
        DOCUMENTED,
        "When the HTTP client disconnects before the response, the asyncio task running the handler on the replica is cancelled: `asyncio.CancelledError` is raised at its next `await`, and a `try/except asyncio.CancelledError` in the handler runs.",
    ),
    Clause(
        "CAN-3",
        DOCUMENTED,
        "A request that the proxy has not yet sent to a replica (e.g. the replica is at `max_ongoing_requests`) is dropped when its client disconnects: the replica never sees it.",
    ),
    Clause("CAN-4", DOCUMENTED, "A handler with no `await` left finishes normally; its response is discarded."),
    Clause(
        "CAN-5",
        DOCUMENTED,
        "Cancellation cascades to downstream `DeploymentHandle` calls made by the cancelled request: the downstream handler gets `CancelledError` too.",
    ),
    Clause(
        "CAN-6",
        DOCUMENTED,
        '`await asyncio.shield(inner())` protects `inner()`: the outer handler sees `CancelledError`, the inner coroutine runs to its end (the guide\'s "ZZZ" is still printed).',
    ),
    Clause(
        "CAN-7",
        DOCUMENTED,
        "`asyncio.shield` around a `DeploymentHandle` call does NOT protect the downstream handler: it is cancelled all the same.",
    ),
    Clause(
        "FA-1",
        DOCUMENTED,
        "`@serve.deployment` + `@serve.ingress(app)` on a class serves the FastAPI app; route methods are bound to the replica instance (`self`).",
    ),
    Clause(
        "FA-2",
        DOCUMENTED,
        'FastAPI routes stack on the route prefix: prefix `/my_app` + `@app.get("/fetch_data")` → `GET /my_app/fetch_data`.',
    ),
    Clause(
        "FA-3",
        DOCUMENTED,
        'Several routes and HTTP methods work, with path parameters: `@app.post("/{subpath}")` under `/hello` → `POST /hello/Serve` → `"Hello from Serve!"`.',
    ),
    Clause(
        "FA-4",
        DOCUMENTED,
        "An existing FastAPI app wrapped by a class with an empty body is served as is; middleware, automatic OpenAPI docs (`<prefix>/docs`, `<prefix>/openapi.json`) and other FastAPI features work (validation errors → 422, dependency injection).",
    ),
    Clause(
        "FA-5",
        DOCUMENTED,
        "(newer guide) `serve.ingress` also accepts a factory: a callable returning the FastAPI app.",
    ),
    Clause(
        "WS-1",
        DOCUMENTED,
        "`@app.websocket(...)` routes in a FastAPI ingress accept WebSocket connections; the guide's echo server answers each text message with the same text.",
    ),
    Clause("WS-2", DOCUMENTED, "When the client closes, the handler's `receive_*` raises `WebSocketDisconnect`."),
    Clause("WS-3", DOCUMENTED, "WebSocket routes stack on the route prefix like HTTP routes."),
    Clause(
        "STR-1",
        DOCUMENTED,
        "A `StreamingResponse` wrapping a sync generator, returned from `__call__`, reaches the client incrementally: with `yield str(i); time.sleep(0.1)` and `max=10`, chunk *i* arrives at about *i* × 0.1 s, not all at the end.",
    ),
    Clause("STR-2", DOCUMENTED, "The same holds for a StreamingResponse returned from a FastAPI route."),
    Clause(
        "STR-3",
        DOCUMENTED,
        'An async generator streamed to a client that disconnects is cancelled: `asyncio.CancelledError` is raised inside it at its next `await` (the guide prints "Cancelled! Exiting.").',
    ),
    Clause("STR-4", DOCUMENTED, "The StreamingResponse's `status_code` and `media_type` reach the client."),
    Clause(
        "KA-1",
        DOCUMENTED,
        "By default the HTTP server keeps an idle connection open between requests for 5 s (the guide's stated default) and then closes it.",
    ),
    Clause("KA-2", DOCUMENTED, "`http_options.keep_alive_timeout_s` in the Serve config file sets that timeout."),
    Clause("KA-3", DOCUMENTED, "The environment variable `RAY_SERVE_HTTP_KEEP_ALIVE_TIMEOUT_S` sets it too."),
    Clause("KA-4", DOCUMENTED, "When both are set, the environment variable wins."),
    Clause(
        "KA-5",
        DOCUMENTED,
        "The setting is global to the instance and cannot be changed at runtime (a later deploy with other `http_options` does not change it).",
    ),
    Clause(
        "ERR-1", RECOMMENDED, "A handler exception gives 500 without leaking the traceback; the server keeps serving."
    ),
    Clause(
        "ERR-2",
        RECOMMENDED,
        "Malformed HTTP, oversized headers and bad config values get a clear error, never a crash or a hang; nothing already accepted is lost.",
    ),
    Clause(
        "OPS-1", RECOMMENDED, "Starting, deleting and shutting down leaves no leaked task, thread, process or port."
    ),
    # ---- Second tier: Serve API beyond the HTTP guide (measured on Ray 2.60 first) ----
    # --- BAT ---
    Clause(
        "BAT-1",
        DOCUMENTED,
        "Concurrent calls of a `@serve.batch` method are gathered into calls with lists of at most `max_batch_size` items; each caller gets the result for its own input.",
    ),
    Clause(
        "BAT-2", DOCUMENTED, "A partial batch waits at most `batch_wait_timeout_s` for more calls, then runs as it is."
    ),
    Clause(
        "BAT-3",
        DOCUMENTED,
        "An exception of the batch function reaches every caller of the batch; a result list of the wrong length fails them with `RayServeException`.",
    ),
    Clause(
        "BAT-4",
        DOCUMENTED,
        "A batched async generator yields one list per step; each caller iterates over its own items.",
    ),
    Clause(
        "BAT-5",
        DOCUMENTED,
        "`set_max_batch_size` / `set_batch_wait_timeout_s` on the decorated method change a live batcher (e.g. from `reconfigure`).",
    ),
    Clause(
        "BAT-6",
        DOCUMENTED,
        "`@serve.batch` rejects a sync function, `max_batch_size` < 1 and a negative `batch_wait_timeout_s`, with Ray's exception types and messages.",
    ),
    # --- MUX ---
    Clause(
        "MUX-1",
        DOCUMENTED,
        '`serve.get_multiplexed_model_id()` returns the model ID a request names: the `serve_multiplexed_model_id` HTTP header (case-insensitive; `-` for `_` accepted) or `handle.options(multiplexed_model_id=...)`; "" when it names none.',
    ),
    Clause(
        "MUX-2",
        DOCUMENTED,
        "A `@serve.multiplexed` loader runs once per model and replica: later requests for a loaded model get the same model object.",
    ),
    Clause(
        "MUX-3",
        DOCUMENTED,
        "With `max_num_models_per_replica=N`, loading model N+1 evicts the least recently used model: its `__del__` is called and the replica drops it, so it is garbage-collected.",
    ),
    Clause(
        "MUX-4",
        DOCUMENTED,
        "`@serve.multiplexed` rejects a sync loader, a loader without a model-ID parameter, and a `max_num_models_per_replica` that is not a positive int (or -1), with Ray's exception types.",
    ),
    # --- HDL ---
    Clause(
        "HDL-1",
        DOCUMENTED,
        "`handle.options(stream=True)` on a generator method returns a `DeploymentResponseGenerator` whose items arrive in order: `for` from plain code, `async for` inside deployments.",
    ),
    Clause(
        "HDL-2",
        DOCUMENTED,
        "A FastAPI route can return a `StreamingResponse` over `async for` of a streaming handle call; the HTTP client receives the downstream generator's items incrementally.",
    ),
    Clause(
        "HDL-3",
        DOCUMENTED,
        "Cancelling a `DeploymentResponseGenerator` cancels the generator on the replica (`asyncio.CancelledError` at its next `await`); reading on raises `RequestCancelledError`.",
    ),
    Clause(
        "HDL-4",
        DOCUMENTED,
        "`DeploymentResponse` objects passed as top-level arguments are resolved to their values before the downstream call; one nested in a list or dict is rejected with Ray's `RayServeException`.",
    ),
    Clause(
        "HDL-5",
        DOCUMENTED,
        "The `stream` option must match the method: a generator called without it, or a plain method called with it, fails with `TypeError`; `options()` rejects unknown options and keeps earlier ones when chained.",
    ),
    Clause(
        "HDL-6",
        DOCUMENTED,
        "A `DeploymentHandle` has `deployment_id` (a `DeploymentID` with `name` and `app_name`), `deployment_name`, `app_name`, a string `handle_id` shared by the handles `.options()` derives from it, and `is_initialized`, False for a handle not used yet and True once it was; the handle, response and generator classes can be subscripted (`DeploymentHandle[int]`); `DeploymentResponse.cancelled()` is False until `cancel()`, then True.",
    ),
    Clause(
        "HDL-7",
        DOCUMENTED,
        "`DeploymentResponse.result(timeout_s=...)` on a call still running raises `ray.exceptions.GetTimeoutError`, which is also a `TimeoutError`; the call goes on, and a later `result()` returns its value.",
    ),
    # --- CTX ---
    Clause(
        "CTX-1",
        DOCUMENTED,
        "`serve.get_replica_context()` inside a replica gives its app name, deployment name, a per-replica `replica_tag`, the `servable_object`, `world_size` and a distinct `rank`; outside a replica it raises `RayServeException`.",
    ),
    Clause(
        "CTX-2",
        DOCUMENTED,
        "A deployment's `user_config` is passed to `reconfigure(config)` before the first request; a `reconfigure` that takes `rank` also gets the replica's `ReplicaRank`.",
    ),
    Clause(
        "CTX-3",
        DOCUMENTED,
        "A `user_config` on a class without a `reconfigure` method fails the deploy, with an error that names the deployment.",
    ),
    # --- SCH ---
    Clause(
        "SCH-1",
        DOCUMENTED,
        '`serve.status()` returns a `ServeStatus` listing each running app as an `ApplicationStatusOverview` (status `RUNNING`, message, `last_deployed_time_s`) with one `DeploymentStatusOverview` per deployment (`HEALTHY`, trigger `CONFIG_UPDATE_COMPLETED`, `replica_states == {"RUNNING": n}`) and the proxies\' `ProxyStatus`; a deleted app is no longer listed.',
    ),
    Clause(
        "SCH-2",
        DOCUMENTED,
        "`LoggingConfig` validates as in Ray 2.60 (level names or numbers, `TEXT`/`JSON` encoding, known record attributes, no unknown fields, Ray's messages); the `logging_config` option of `@serve.deployment`, `.options()` and `serve.run` takes a dict or a `LoggingConfig` and rejects bad values before anything is deployed.",
    ),
    Clause(
        "SCH-3",
        DOCUMENTED,
        "`ray.serve.schema` provides Ray 2.60's status enums and dataclasses, `ReplicaRank`, and the config models `ServeDeploySchema`, `ServeApplicationSchema` and `DeploymentSchema` with Ray's field names, defaults and validation rules.",
    ),
    # --- MET ---
    Clause(
        "MET-1",
        DOCUMENTED,
        "`ray.serve.metrics` `Counter`, `Gauge` and `Histogram` can be created and recorded inside a replica with tag keys and default tags; there Serve adds its `deployment`, `replica` and `application` tag keys and values, which it does not add outside a replica.",
    ),
    Clause(
        "MET-2",
        DOCUMENTED,
        "Wrong tags are rejected with Ray 2.60's errors: a missing tag value, an unknown default tag key, a non-`str` tag value, `tag_keys` that are not a tuple of `str`, and (inside a replica) the reserved `deployment`/`replica`/`application` keys.",
    ),
    Clause(
        "MET-3",
        DOCUMENTED,
        "Bad values, names and boundaries are rejected with Ray 2.60's errors: `inc` by a value <= 0, non-numeric values, an empty name, a histogram without positive `boundaries`; an invalid name warns and the metric records nothing, without failing.",
    ),
    # --- RID ---
    Clause(
        "RID-1",
        DOCUMENTED,
        "A request's `X-Request-Id` header is its request ID: returned in the response's `x-request-id` and seen by the handler in `serve.context._get_serve_request_context().request_id`; without the header a new ID of the form `str(uuid.uuid4())` is made for each request, returned and seen the same way.",
    ),
    Clause(
        "RID-2",
        DOCUMENTED,
        "Handle calls made while serving a request carry that request's ID to the deployments they reach.",
    ),
    # --- ASG ---
    Clause(
        "ASG-1",
        DOCUMENTED,
        "`serve.deployment(serve.ingress(app)())` serves the app's routes without a class of one's own; a function passed to `serve.ingress` is called on each replica and the FastAPI or Starlette app it returns is served; a Starlette app is served as given.",
    ),
    Clause(
        "ASG-2",
        DOCUMENTED,
        "`serve.ingress` raises `ValueError` for a function, for a class with `__call__`, and, called without an app, for a class lacking `__serve_build_asgi_app__`; with that method the class builds its app after `__init__`.",
    ),
    Clause(
        "ASG-3",
        DOCUMENTED,
        "The app is served as it stood when `@serve.ingress` ran: routes added later answer 404; routes written as methods of the class match after the app's plain routes, so a plain route wins on a shared path; of two method routes on one path, the first declared wins.",
    ),
    Clause(
        "ASG-4",
        DOCUMENTED,
        "One FastAPI object used by `@serve.ingress` on two classes in two applications: each application serves its own class's method routes, not the other's (404), and the plain routes that existed when its class was decorated.",
    ),
    Clause(
        "ASG-5",
        DOCUMENTED,
        '`serve.run` refuses an application with two `@serve.ingress` deployments with `RayServeException` ("Found multiple FastAPI deployments in application ...") and deploys nothing.',
    ),
    # --- RDP ---
    Clause(
        "RDP-1",
        DOCUMENTED,
        "`serve.run` of a new version of a running application lets the requests under way finish on the old version (200), and every request sent after `serve.run` returned reaches the new version.",
    ),
    # --- BP ---
    Clause(
        "BP-1",
        DOCUMENTED,
        'With `max_ongoing_requests` requests running on every replica and `max_queued_requests` waiting, a further HTTP request is answered at once with 503, `text/plain; charset=utf-8`, "Request dropped due to backpressure (num_queued_requests=N, max_queued_requests=M)." and an `x-request-id`; the running and queued requests are served.',
    ),
    Clause(
        "BP-2",
        DOCUMENTED,
        "A handle call over the same limit fails with `BackPressureError` (the same message) when its result is asked for.",
    ),
    Clause(
        "BP-3",
        DOCUMENTED,
        "A handler whose downstream handle call fails with `BackPressureError` (not caught) answers its HTTP client 503 with the error's message, not 500, in a plain deployment and in a FastAPI ingress alike.",
    ),
    Clause(
        "BP-4",
        DOCUMENTED,
        "A deployment's `backpressure_config` (`status_code` 503 or 429, `retry_after_s`) sets the status of the requests BP-1 rejects and adds `Retry-After` in whole seconds, rounded up; without it no `Retry-After` is sent.",
    ),
    # --- HLT ---
    Clause(
        "HLT-1",
        DOCUMENTED,
        '`/-/healthz` and `/-/routes` answer 503 "Route table is not populated yet." until an app with a route prefix has been deployed (one without a route does not count); from then on 200 `success` and the JSON route table, also after every app is deleted.',
    ),
    # --- LIF ---
    Clause(
        "LIF-1",
        DOCUMENTED,
        "A replica whose constructor or FastAPI lifespan startup raises is tried 3 times; then `serve.run` raises RuntimeError \"Deploying application NAME failed: Failed to update the deployments ['DEPLOYMENT'].\", the app stays in `serve.status()` as DEPLOY_FAILED (the deployment DEPLOY_FAILED, trigger REPLICA_STARTUP_FAILED, a message carrying the error) and its route answers 503 \"Deployment(name='DEPLOYMENT', app='NAME') is unavailable because it failed to deploy.\"",
    ),
    Clause(
        "LIF-2",
        DOCUMENTED,
        "When a replica stops (`serve.delete`, or a redeploy replacing it), its ASGI app's lifespan shutdown runs, then the deployment's `__del__` (awaited to its end when async), each once; the new version's hooks do not run.",
    ),
    Clause(
        "LIF-3",
        DOCUMENTED,
        "A class's `check_health` runs once before the replica takes requests, then about every `health_check_period_s`; after 3 failed checks in a row the replica is stopped (its `__del__` runs, it is not checked again) and a new one takes its place, after which the deployment is HEALTHY again.",
    ),
    # --- VAL ---
    Clause(
        "VAL-1",
        DOCUMENTED,
        "The arguments and the result of a handle call cross as copies: a replica that mutates an argument leaves the caller's object unchanged, and a caller that mutates a result leaves the replica's object unchanged; from the driver and between deployments alike.",
    ),
    Clause(
        "VAL-2",
        DOCUMENTED,
        "An argument that cannot be serialized (a `threading.Lock`) does not fail `.remote()`; reading the result raises `TypeError` naming it, and the replica serves the next call. A result that cannot be serialized fails the call with a `TypeError` as well.",
    ),
    Clause(
        "VAL-3",
        DOCUMENTED,
        'An exception a replica raises reaches the handle caller as `RayTaskError(<its type>)`: an instance of `ray.exceptions.RayTaskError` and of the original type, whose `cause` is the original exception and whose `str()` is the remote traceback headed `ray::…`, ending with the original\'s own line (`ValueError: boom`), so `match="^boom$"` does not match. Passed up through another deployment it keeps that type and cause; a streaming call raises it at the item where the generator failed.',
    ),
    # --- CFG ---
    Clause(
        "CFG-1",
        DOCUMENTED,
        "An application's `deployments:` entries in a config file override the options its code sets: `num_replicas: 2` runs two replicas (as `serve.status()` reports them) where the code says one, and a `user_config` override is what the replicas' `reconfigure` receives.",
    ),
    Clause(
        "CFG-2",
        DOCUMENTED,
        'An application\'s `args` reach the builder its `import_path` names: validated into the pydantic model its first parameter is annotated with (the string `"2"` becomes the int 2), or as a plain dict when it has no such annotation.',
    ),
    Clause(
        "CFG-3",
        DOCUMENTED,
        "Keys the config schema does not have (a top-level `note:`, a misspelt `num_replica:` in a deployment entry) are ignored, as Ray's forward-compatible schema ignores them: the file deploys, and the misspelt option has no effect.",
    ),
    # --- DEP ---
    Clause(
        "DEP-1",
        DOCUMENTED,
        "A `Deployment` reads back its options through Ray's properties, as declared and as changed by `.options()`: `name`, `func_or_class`, `num_replicas` (1 when autoscaling), `max_ongoing_requests` (default 5), `max_queued_requests` (default -1), `user_config`, and `ray_actor_options` with `num_cpus: 1` filled in; `.options()` with nothing changed is equal to it, and both print as `Deployment(name=NAME)`.",
    ),
    Clause(
        "DEP-2",
        DOCUMENTED,
        '`autoscaling_config`, a dict or a `ray.serve.config.AutoscalingConfig`, is checked when the deployment is declared (`@serve.deployment` or `.options()`): contradicting replica bounds, negative counts and an unknown `aggregation_function` raise a `ValueError` "1 validation error for DeploymentConfig" naming the field, with Ray\'s message; `version` raises `ValueError` (removed), an unknown `ray_actor_options` key `ValueError`; a valid config, and `num_replicas="auto"`, deploy and serve.',
    ),
)

CLAUSES: dict[str, Clause] = {c.id: c for c in _CLAUSES}

CATALOGUE_HASH = hashlib.sha256("\n".join(f"{c.id}|{c.level}|{c.text}" for c in _CLAUSES).encode("utf-8")).hexdigest()[
    :16
]


def get(clause_id: str) -> Clause:
    try:
        return CLAUSES[clause_id]
    except KeyError:
        raise KeyError(f"unknown clause ID {clause_id!r}; known IDs: {', '.join(CLAUSES)}") from None
