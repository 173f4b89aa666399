"""The plugin's one door to the conformance suite: its catalogue, the catalogue's hash,
its version and folder, whether the installed copy is the released one, and which clause
IDs a `--clause` selection takes. Everything else in pytest_serve reaches the suite here,
and `conformance` imports nothing of pytest_serve but its public names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import conformance
from conformance.clauses import CATALOGUE_HASH, CLAUSES, TIERS, Clause

from .reporting import integrity

__all__ = [
    "CATALOGUE_HASH",
    "CLAUSES",
    "TIERS",
    "VERSION",
    "Clause",
    "directory",
    "installed",
    "selects",
    "unknown_clauses",
]

#: The suite's version (reports record it; `verify` needs the same one installed).
VERSION: str = conformance.__version__


def directory() -> Path:
    """The folder of the conformance suite that `import conformance` finds."""
    return Path(conformance.__file__).resolve().parent


def installed() -> integrity.InstalledSuite:
    """The installed suite: version, catalogue hash, files on disk, and how they differ
    from its own SHA256SUMS (no problems: the released suite)."""
    folder = directory()
    files = integrity.suite_files(folder)
    try:
        problems = integrity.check_files(files, integrity.read_manifest(folder))
    except ValueError as err:
        problems = [str(err)]
    return integrity.InstalledSuite(VERSION, CATALOGUE_HASH, files, problems)


def selects(clause_ids: Iterable[str], prefixes: Sequence[str], tiers: Sequence[str] = ()) -> bool:
    """Whether a test of `clause_ids` belongs to a `--clause` and `--serve-tier` selection
    (none: all do). A test that names no clause is kept, as it is by `--clause`'s absence."""
    ids = list(clause_ids)
    if tiers and ids and not any(CLAUSES[i].tier in tiers for i in ids if i in CLAUSES):
        return False
    return not prefixes or any(i.startswith(p) for i in ids for p in prefixes)


def unknown_clauses(clause_ids: Iterable[str], known: Mapping[str, Clause] = CLAUSES) -> list[str]:
    """The IDs that are not in the catalogue."""
    return [i for i in clause_ids if i not in known]
