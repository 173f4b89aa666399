"""The machinery that serves requests, below the Serve API modules.

A request's path: `http_server` runs uvicorn (with `head_limits` on each request's
head) on the proxy's loop; `proxy` matches the route (`route_table`), takes a slot
from the deployment's `router` and relays ASGI messages through an `exchange`
(`channel`s between event loops, `loops`) to a `replica`, which runs user code,
turns results into responses (`encoding`) and streams generators (`streaming`);
`health` checks replicas. Nothing here imports the public API modules above it
(`api`, `handle`, `instance`, `serve`).
"""
