"""A small, fast, in-process implementation of Ray Serve's HTTP API.

    from reference_impl import serve

runs the examples of Ray Serve's "Set Up FastAPI and HTTP" guide unchanged.
"""

from . import serve

__version__ = "0.1.0"
__all__ = ["__version__", "serve"]
