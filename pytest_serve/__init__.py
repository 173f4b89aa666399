"""pytest-serve: fixtures to test Serve apps on any implementation, and a conformance suite.

The plugin registers itself through the `pytest11` entry point; these names are
for adapters and for code that measures Serve behaviour outside fixtures.
"""

from .adapters import Adapter, AdapterError, free_port, load_adapter
from .deployed import DeployedApp
from .http import (
    Departure,
    StreamResult,
    adisconnect_after,
    aidle_close_after,
    astream_chunks,
    async_http_client,
    disconnect_after,
    http_client,
    idle_close_after,
    raw_request,
    stream_chunks,
)
from .probe import Probe, ProbeEvent, ProbeTimeout
from .timing import Stopwatch, wait_until

__version__ = "0.1.0"

__all__ = [
    "Adapter",
    "AdapterError",
    "Departure",
    "DeployedApp",
    "Probe",
    "ProbeEvent",
    "ProbeTimeout",
    "Stopwatch",
    "StreamResult",
    "__version__",
    "adisconnect_after",
    "aidle_close_after",
    "astream_chunks",
    "async_http_client",
    "disconnect_after",
    "free_port",
    "http_client",
    "idle_close_after",
    "load_adapter",
    "raw_request",
    "stream_chunks",
    "wait_until",
]
