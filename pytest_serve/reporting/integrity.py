"""Which suite and adapter produced a report, and whether the suite was the released one.

The conformance suite ships `SHA256SUMS`, the `sha256sum` listing of its files as
released (written by `scripts/suite_manifest.py`). When a report is made, every file of
the suite found on disk is hashed and compared with that listing; so are the places the
tests came from (all in the suite) and the tests that ran (all that the selection asks
for). The report keeps the hashes, so `pytest-serve verify` can later check them against
an installed, unmodified suite of the same version. No pytest import here.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "MANIFEST",
    "InstalledSuite",
    "Integrity",
    "adapter_fingerprint",
    "check_files",
    "format_manifest",
    "module_hash",
    "read_manifest",
    "run_problems",
    "suite_files",
    "suite_hash",
]

#: The suite's listing of its own files, in the suite's folder.
MANIFEST = "SHA256SUMS"


@dataclass
class Integrity:
    """What a report says about its own origin. `problems` empty: the suite as listed in
    its SHA256SUMS, and every test of the selection ran."""

    suite_hash: str
    files: dict[str, str]
    adapter: dict[str, str]
    problems: list[str] = field(default_factory=list)

    @property
    def modified(self) -> bool:
        return bool(self.problems)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Integrity:
        return cls(
            suite_hash=str(data["suite_hash"]),
            files={str(k): str(v) for k, v in data.get("files", {}).items()},
            adapter={str(k): str(v) for k, v in data.get("adapter", {}).items()},
            problems=[str(p) for p in data.get("problems", [])],
        )


@dataclass(frozen=True)
class InstalledSuite:
    """The conformance suite installed here, as `pytest-serve verify` compares reports with
    it: its version, its catalogue's hash, its files found on disk (name → sha256), and how
    those differ from its own `SHA256SUMS` (empty: unmodified)."""

    version: str
    catalogue_hash: str
    files: dict[str, str]
    problems: list[str]


def _hash_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def suite_files(directory: Path) -> dict[str, str]:
    """Every file of the suite under `directory` (posix path relative to it → sha256),
    found on disk: caches (`__pycache__`, dot-folders, `.pyc`) and the listing left out."""
    files = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if not path.is_file() or relative.as_posix() == MANIFEST:
            continue
        if any(part.startswith(".") or part == "__pycache__" for part in relative.parts) or path.suffix == ".pyc":
            continue
        files[relative.as_posix()] = _hash_file(path)
    return files


def format_manifest(files: Mapping[str, str]) -> str:
    """The listing in `sha256sum` format (`sha256sum -c SHA256SUMS` checks it)."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(files.items()))


def suite_hash(files: Mapping[str, str]) -> str:
    """One hash for a set of suite files: the sha256 of their listing."""
    return hashlib.sha256(format_manifest(files).encode("utf-8")).hexdigest()


def read_manifest(directory: Path) -> dict[str, str] | None:
    """The suite's `SHA256SUMS` as name → sha256, or None if it has none."""
    path = directory / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    listed = {}
    for number, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise ValueError(f"{path} line {number} is not `<sha256>  <file>`: {line!r}")
        listed[name] = digest
    return listed


def check_files(found: Mapping[str, str], listed: Mapping[str, str] | None) -> list[str]:
    """Problems of `found` files against the suite's listing, one line each."""
    if listed is None:
        return [f"the suite has no {MANIFEST}: its files cannot be checked"]
    problems = [f"{name} is changed" for name in sorted(found) if name in listed and found[name] != listed[name]]
    problems += [f"{name} was added" for name in sorted(set(found) - set(listed))]
    problems += [f"{name} is missing" for name in sorted(set(listed) - set(found))]
    return problems


def adapter_fingerprint(adapter_type: type) -> dict[str, str]:
    """The adapter class and a sha256 of its module's source ("" if it has no file)."""
    module = importlib.import_module(adapter_type.__module__)
    return {"class": f"{adapter_type.__module__}.{adapter_type.__qualname__}", "sha256": _module_hash(module)}


def module_hash(module_name: str) -> str:
    """sha256 of an importable module's source file; raises ImportError if it is not importable."""
    return _module_hash(importlib.import_module(module_name))


def _module_hash(module: object) -> str:
    try:
        source = inspect.getsourcefile(module)  # type: ignore[arg-type]
    except TypeError:  # built-in or dynamically made: nothing on disk to hash
        return ""
    return _hash_file(Path(source)) if source else ""


def run_problems(ran: Iterable[str], expected: Iterable[str], outside: Iterable[str]) -> list[str]:
    """Problems of the tests a run was made of: tests from files outside the suite, and
    tests of the selection that did not run (deselected, or the run stopped early)."""
    problems = []
    outside = sorted(set(outside))
    if outside:
        shown = ", ".join(outside[:5]) + (f" and {len(outside) - 5} more" if len(outside) > 5 else "")
        problems.append(f"{len(outside)} clause test(s) from outside the suite ran: {shown}")
    missing = sorted(set(expected) - set(ran))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        problems.append(f"{len(missing)} test(s) of the suite did not run: {shown}")
    return problems
