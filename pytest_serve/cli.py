"""The `pytest-serve` command.

- `certify`: run the conformance suite against an implementation and write its
  certification report (report.json, report.md, report.html). Exit code 0 when
  certified, 1 when not, 2 on usage errors.
- `compare REPORT...`: reports side by side, clause by implementation, as Markdown and HTML.
- `verify REPORT`: whether a report comes from the unmodified suite installed here
  (0 verified, 1 rejected, 2 cannot tell).
- `diff [--impl A --impl B ...] [-- PYTEST ARGS]`: a project's own tests on each
  implementation, matched test by test (0 all agree, 1 some differ, 2 a run could not start).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pytest-serve",
        description="Conformance suite for the HTTP behaviour of Ray-Serve-style servers.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    certify = sub.add_parser(
        "certify",
        help="run the conformance suite and write a certification report",
        description="Run the conformance suite against an implementation and write "
        "report.json, report.md and report.html. Exit code 0 means every documented clause "
        "that ran, in every tier, passed (or is a declared deviation, or not testable on the "
        "instance); 1 that one did not. With $GITHUB_STEP_SUMMARY set, report.md is "
        "appended to that file too.",
    )
    certify.add_argument(
        "--impl",
        default="reference",
        help="'reference' (default, the embedded implementation), 'ray', 'ray-local' (Ray "
        "Serve's local testing mode), a module with the "
        "Serve API ('pkg.serve') or 'pkg.module:AdapterClass'",
    )
    certify.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="with --impl ray: certify the Serve of this running Ray cluster (head:6379 or "
        "ray://head:10001) instead of a private Ray; the cluster is left running and clean",
    )
    certify.add_argument(
        "--serve-url",
        default=None,
        metavar="URL",
        help="with --ray-address: the base URL clients reach Serve through (load balancer, "
        "ingress, port-forward); HTTP and WebSocket tests go through it",
    )
    certify.add_argument(
        "--report",
        default=None,
        metavar="DIR",
        help="directory for report.json, report.md and report.html (default: ./serve-report/<impl>)",
    )
    certify.add_argument(
        "--deviations", default=None, metavar="FILE", help="declared deviations (YAML: clause ID: reason)"
    )
    certify.add_argument(
        "--clause", action="append", default=[], metavar="PREFIX", help="only clauses starting with PREFIX (repeatable)"
    )
    certify.add_argument(
        "--tier",
        action="append",
        default=[],
        choices=["guide", "api"],
        help="certify one tier of the catalogue on purpose: 'guide' (the HTTP guide) or 'api' "
        "(the Serve API beyond it); default both",
    )
    certify.add_argument(
        "-n",
        "--workers",
        default="auto",
        type=_workers,
        metavar="N",
        help="run the suite in N processes (pytest-xdist), each with its own instance and "
        "each configuration on one of them; 'auto' (default): "
        + ", ".join(f"{n} for {impl}" for impl, n in AUTO_WORKERS.items())
        + ", 1 for other implementations, 1 without pytest-xdist; 1 runs in this process",
    )
    certify.add_argument(
        "--junitxml", default=None, metavar="FILE", help="also write a JUnit XML file, with each test's clause IDs"
    )
    certify.add_argument("pytest_args", nargs="*", help="extra pytest arguments, after --")
    compare = sub.add_parser(
        "compare",
        help="certification reports side by side",
        description="A matrix of clause × implementation: verdict and headline figure, marked where "
        "they differ from the first report's. Prints Markdown unless --markdown or --html is given.",
    )
    compare.add_argument("reports", nargs="+", metavar="REPORT", help="a report.json, or a folder holding one")
    compare.add_argument("--markdown", default=None, metavar="FILE", help="write the comparison as Markdown")
    compare.add_argument("--html", default=None, metavar="FILE", help="write the comparison as one HTML page")
    verify = sub.add_parser(
        "verify",
        help="check that a report comes from the unmodified suite",
        description="Check a report against the conformance suite installed here: its suite files, "
        "adapter and verdicts. Exit code 0: verified; 1: rejected; 2: cannot tell (other suite "
        "version, unreadable report, modified installation).",
    )
    verify.add_argument("report", metavar="REPORT", help="a report.json, or a folder holding one")
    diff = sub.add_parser(
        "diff",
        help="run your tests on several implementations and show where they disagree",
        description="Run the same pytest selection once per implementation, each in its own process, "
        "and match the outcomes test by test. Exit code 0: every test agrees (whatever its outcome); "
        "1: some differ; 2: a run could not start. Mark accepted differences with "
        "@pytest.mark.serve_known_difference(reason) or the serve_known_differences ini key.",
    )
    diff.add_argument(
        "--impl",
        action="append",
        default=[],
        metavar="IMPL",
        help="an implementation, as --serve-impl (repeatable; the first is the baseline); default: reference and ray",
    )
    diff.add_argument(
        "--ray-address", default=None, metavar="ADDR", help="for the ray runs: test the Serve of this running cluster"
    )
    diff.add_argument("--serve-url", default=None, metavar="URL", help="with --ray-address: where clients reach Serve")
    diff.add_argument(
        "--report",
        default=None,
        metavar="DIR",
        help="write diff.json, diff.md and diff.html here (default: ./serve-diff)",
    )
    diff.add_argument("--junitxml", default=None, metavar="FILE", help="also write the matches as JUnit XML")
    diff.add_argument(
        "--timeout", default=3600.0, type=float, metavar="S", help="give up on a run after S seconds (default 3600)"
    )
    diff.add_argument("pytest_args", nargs="*", help="the test selection and pytest options, after --")
    return parser


# Processes `--workers auto` runs for an implementation. The reference is in-process
# and most conformance tests wait on timers, so four processes share two cores well.
# Each Ray worker starts a Ray instance of its own; Ray's tests wait too (replica
# drains, process starts), and on two cores four of them took 0.68 of the time two took
# (CPU ~90% busy). An adapter of another implementation may not allow two instances
# side by side: it runs serially unless told otherwise. Ray's local testing mode runs in
# process, but a test that reads serve.status() starts a full Ray in its worker.
AUTO_WORKERS = {"reference": 4, "ray": 4, "ray-local": 2}


def _workers(value: str) -> int | None:
    """`auto` → None; otherwise a positive whole number."""
    if value == "auto":
        return None
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 1 or 'auto', not {value!r}")
    return int(value)


def _xdist_args(impl: str, workers: int | None) -> list[str]:
    have_xdist = importlib.util.find_spec("xdist") is not None
    if workers is None:
        workers = AUTO_WORKERS.get(impl, 1) if have_xdist else 1
    elif workers > 1 and not have_xdist:
        raise SystemExit(
            f"pytest-serve certify: --workers {workers} needs pytest-xdist; "
            "install it (`pip install pytest-xdist`) or pass --workers 1"
        )
    return ["-n", str(workers), "--dist", "loadgroup"] if workers > 1 else []


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "compare":
        return _compare(args)
    if args.command == "verify":
        return _verify(args)
    if args.command == "diff":
        from .diffrun import run_diff

        return run_diff(args)
    return _certify(args)


def _certify(args: argparse.Namespace) -> int:
    import pytest

    slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in args.impl)
    report_dir = Path(args.report or Path("serve-report") / slug)
    spec = importlib.util.find_spec("conformance")  # found, not imported: pytest imports it
    assert spec is not None and spec.submodule_search_locations, "the conformance suite is missing"
    suite_dir = Path(next(iter(spec.submodule_search_locations)))
    # NOTE: the suite's own folder, not `--pyargs conformance`: run from a checkout of
    # this project, that name would resolve to the checkout's folder while `import
    # conformance` finds the installed copy, and pytest refuses such a mix.
    pytest_args = [
        str(suite_dir),
        "-c",
        str(suite_dir / "pytest.ini"),
        "--rootdir",
        str(suite_dir),
        f"--serve-impl={args.impl}",
        f"--serve-report={report_dir}",
        "-p",
        "no:cacheprovider",
        "-q",
        # This command imports pytest_serve before pytest does; its plugin modules are
        # still rewritten, the package itself needs no assertion rewriting.
        "-W",
        "ignore:Module already imported so cannot be rewritten; pytest_serve",
    ]
    if importlib.util.find_spec("pytest_asyncio") is not None:
        # The suite has no async fixtures; this only silences pytest-asyncio's warning
        # about the unset default.
        pytest_args += ["-o", "asyncio_default_fixture_loop_scope=function"]
    if args.deviations:
        pytest_args.append(f"--serve-deviations={args.deviations}")
    if args.ray_address:
        pytest_args.append(f"--ray-address={args.ray_address}")
    if args.serve_url:
        pytest_args.append(f"--serve-url={args.serve_url}")
    pytest_args += [f"--clause={c}" for c in args.clause]
    pytest_args += [f"--serve-tier={t}" for t in args.tier]
    if args.junitxml:
        pytest_args.append(f"--junitxml={Path(args.junitxml).resolve()}")
    pytest_args += _xdist_args(args.impl, args.workers)
    pytest_args += args.pytest_args
    started = time.monotonic()
    code = pytest.main(pytest_args)
    elapsed = time.monotonic() - started
    if code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR):
        return 2
    report = report_dir / "report.json"
    if not report.exists():
        print(f"pytest-serve: no report was written (pytest exit code {int(code)})", file=sys.stderr)
        return 2
    print(f"pytest-serve certify: {args.impl} took {elapsed:.1f} s")
    from .reporting.step_summary import append_step_summary

    append_step_summary(report_dir / "report.md")
    # Every documented clause that ran, in every tier the run covers: "passed" is the
    # certification for a full run, and judges the clauses a --clause run ran.
    return 0 if json.loads(report.read_text(encoding="utf-8"))["passed"] else 1


def _compare(args: argparse.Namespace) -> int:
    from .reporting import Comparison, load_report

    try:
        comparison = Comparison([load_report(path) for path in args.reports])
    except ValueError as err:
        print(f"pytest-serve compare: {err}", file=sys.stderr)
        return 2
    if args.markdown:
        Path(args.markdown).write_text(comparison.to_markdown(), encoding="utf-8")
    if args.html:
        Path(args.html).write_text(comparison.to_html(), encoding="utf-8")
    if not (args.markdown or args.html):
        print(comparison.to_markdown())
    return 0


def _verify(args: argparse.Namespace) -> int:
    from . import suite
    from .reporting import verify_file

    result = verify_file(args.report, suite.installed())
    for line in result.checked:
        print(f"  ok: {line}")
    for problem in result.problems:
        print(f"  PROBLEM: {problem}")
    print(result.verdict)
    if result.cannot:
        return 2
    return 0 if result.verified else 1


if __name__ == "__main__":
    sys.exit(main())
