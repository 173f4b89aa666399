"""Fixtures for the reference implementation's own tests (not the conformance suite):
see tests/direct_serve.py."""

from direct_serve import _serve_shut_down, http, instance, start_serve  # noqa: F401
