"""Ray Serve names the reference accepts and ignores, for docs/ray-api-coverage.md.

They exist so that Ray code runs; in one process without a cluster they do nothing.
"""

from __future__ import annotations

__all__ = ["ACCEPTED_AND_IGNORED"]

ACCEPTED_AND_IGNORED: dict[str, str] = {
    "ray.serve.schema.TracingConfig": "no tracing backend in one process",
}
