"""The conformance suite: one or more tests per clause of the guide, on any implementation.

Run it with `pytest-serve certify` or `pytest --pyargs conformance --serve-impl=...`.
"""

__version__ = "0.1.0"
