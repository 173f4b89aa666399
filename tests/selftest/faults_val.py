"""Faults that break the VAL clauses (values and errors across a handle call) of the reference."""

from __future__ import annotations

from typing import Any

import pytest
from faulty import fault

from reference_impl import handle, serialization
from reference_impl.runtime import replica, streaming


def _copy_with(mp: pytest.MonkeyPatch, copy: Any) -> None:
    for module in (handle, replica, streaming):
        mp.setattr(module, "copy_value", copy)


@fault("values-shared", "VAL-1")
def _(mp: pytest.MonkeyPatch) -> None:
    """Arguments and results are passed as the same objects, as a call within one process would."""
    _copy_with(mp, lambda value: value)


@fault("unserializable-values-pass", "VAL-2")
def _(mp: pytest.MonkeyPatch) -> None:
    """A value that cannot be pickled is passed along as it is instead of failing the call."""

    def lenient(value: Any) -> Any:
        try:
            return serialization.copy_value(value)
        except TypeError:
            return value

    _copy_with(mp, lenient)


@fault("replica-errors-unwrapped", "VAL-3")
def _(mp: pytest.MonkeyPatch) -> None:
    """A replica's exception reaches the caller as it was raised, not as Ray's RayTaskError."""
    mp.setattr(replica.Replica, "_task_error", lambda self, err: err)
