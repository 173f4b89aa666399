"""An adapter running the reference implementation with one fault injected.

`--serve-impl=faulty:FaultyReference` with `PYTEST_SERVE_FAULT=<name>` patches the
reference implementation as that fault says while the instance runs. The
conformance tests of the fault's clauses must then fail: that is how we know
each of them can.

Faults live in `faults_<group>.py` beside this file, registered with `@fault(...)`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_serve.adapters.reference import ReferenceAdapter

ENV = "PYTEST_SERVE_FAULT"


@dataclass(frozen=True)
class Fault:
    name: str
    clauses: tuple[str, ...]
    apply: Callable[[pytest.MonkeyPatch], None]
    doc: str


FAULTS: dict[str, Fault] = {}


def fault(
    name: str, *clauses: str
) -> Callable[[Callable[[pytest.MonkeyPatch], None]], Callable[[pytest.MonkeyPatch], None]]:
    """Register `apply(monkeypatch)` as fault `name`, which must break `clauses`."""

    def register(apply: Callable[[pytest.MonkeyPatch], None]) -> Callable[[pytest.MonkeyPatch], None]:
        if name in FAULTS:
            raise ValueError(f"fault {name!r} registered twice")
        FAULTS[name] = Fault(name, clauses, apply, (apply.__doc__ or "").strip())
        return apply

    return register


def load_faults() -> dict[str, Fault]:
    for path in sorted(Path(__file__).parent.glob("faults_*.py")):
        importlib.import_module(path.stem)
    return FAULTS


class FaultyReference(ReferenceAdapter):
    name = "reference+fault"

    def __init__(self) -> None:
        super().__init__()
        name = os.environ.get(ENV, "")
        faults = load_faults()
        if name not in faults:
            raise ValueError(f"${ENV}={name!r}; known faults: {sorted(faults)}")
        self.fault = faults[name]
        # The fault stays for the life of the process (one pytest run per fault), so it
        # also covers paths that never call start(), such as deploy_config.
        self._patch = pytest.MonkeyPatch()
        self.fault.apply(self._patch)
