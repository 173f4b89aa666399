"""Write conformance/SHA256SUMS: the listing of the suite's files that certification
compares the installed suite with, so a report can say it came from the unmodified suite.

    python scripts/suite_manifest.py          # rewrite the listing after changing the suite
    python scripts/suite_manifest.py check    # exit 1 if the listing is out of date

Run it whenever a file of `conformance/` changes (a test, a guide example, the
catalogue); the project's tests fail until the listing matches the files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "conformance"
sys.path.insert(0, str(ROOT))

from pytest_serve.reporting.integrity import MANIFEST, check_files, format_manifest, read_manifest, suite_files  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=["write", "check"], default="write")
    args = parser.parse_args(argv)
    files = suite_files(SUITE)
    if args.command == "check":
        problems = check_files(files, read_manifest(SUITE))
        for problem in problems:
            print(f"conformance/{MANIFEST}: {problem}", file=sys.stderr)
        return 1 if problems else 0
    (SUITE / MANIFEST).write_text(format_manifest(files), encoding="utf-8")
    print(f"wrote conformance/{MANIFEST}: {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
