"""`reference-serve run <config.yaml | module:app>` and `reference-serve exec <script.py>`
(also `python -m reference_impl ...`).

Both put the Ray alias in place first, so an app or script written with
`from ray import serve` runs unchanged on the reference implementation.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from . import api, ray_alias
from .config import ConfigError
from .config_file import ServeConfig, load_config
from .exceptions import ServeError
from .schema import HTTPOptionsSchema
from .script_runner import run_script

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reference-serve",
        description="Run Serve applications on the reference implementation.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="deploy a config file or an import path and serve until Ctrl-C",
        description="Deploy a Serve config file (YAML) or an application import path "
        "(`module:app`) and serve it until interrupted.",
    )
    run.add_argument("target", help="a Serve config file (.yaml/.yml/.json) or `module:app`")
    run.add_argument(
        "arguments",
        nargs="*",
        metavar="key=value",
        help="with `module:builder`: arguments for the builder, as Ray's `serve run` takes them",
    )
    run.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=None, help="TCP port (default 8000; 0 = any free)")
    run.add_argument("--route-prefix", default="/", help="route prefix for an import path target")
    run.add_argument("--name", default="default", help="application name for an import path target")
    run.add_argument("--app-dir", default=".", help="directory added to sys.path before importing (default .)")
    _alias_flag(run)
    build = sub.add_parser(
        "build",
        help="write the Serve config file for apps, as Ray's `serve build` does",
        description="The config file Ray's `serve build` writes for the same import paths "
        "(one application each), on standard output or in --output.",
    )
    build.add_argument("import_paths", nargs="+", metavar="module:app", help="an Application or a builder")
    build.add_argument("-o", "--output", default=None, metavar="FILE", help="write the YAML here")
    build.add_argument("--app-dir", default=".", help="directory added to sys.path before importing (default .)")
    _alias_flag(build)
    run_script = sub.add_parser(
        "exec",
        help="run a Python script (or -m module) with `ray.serve` on the reference",
        description="Run a Python script as `python script.py args` would, with `import ray` "
        "and `from ray import serve` resolving to the reference implementation (like "
        "`coverage run`). The script's exit code is this command's.",
    )
    run_script.add_argument(
        "-m", dest="module", action="store_true", help="run a library module as a script, like `python -m`"
    )
    run_script.add_argument("script", help="the script's path (or the module's name with -m)")
    run_script.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    _alias_flag(run_script)
    return parser


def _alias_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-ray-alias",
        dest="ray_alias",
        action="store_false",
        help="leave `import ray` alone (by default `ray.serve` is the reference implementation)",
    )


def _config_for(args: argparse.Namespace) -> ServeConfig:
    target: str = args.target
    if target.endswith((".yaml", ".yml", ".json")) or Path(target).is_file():
        if args.arguments:
            raise ConfigError("key=value arguments go with an import path; a config file sets each app's `args`")
        config = load_config(target)
    else:
        app = {"name": args.name, "route_prefix": args.route_prefix, "import_path": target}
        config = load_config({"applications": [{**app, "args": _builder_arguments(args.arguments)}]})
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if overrides:
        merged = config.http_options.model_dump(exclude_unset=True) | overrides
        config = config.model_copy(update={"http_options": HTTPOptionsSchema.model_validate(merged)})
    return config


def _builder_arguments(pairs: Sequence[str]) -> dict[str, str]:
    """`key=value` words as a builder's `args` (values stay strings, as Ray passes them)."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"builder argument {pair!r} must look like key=value")
        found[key] = value
    return found


def _build(args: argparse.Namespace) -> int:
    from .build import build_config, render_yaml

    sys.path.insert(0, str(Path(args.app_dir).resolve()))
    try:
        text = render_yaml(build_config(args.import_paths))
    except (ImportError, AttributeError, TypeError, ValueError) as err:
        print(f"reference-serve build: error: {err}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.ray_alias:
        try:
            ray_alias.install()
        except ray_alias.RayAlreadyImportedError as err:
            print(f"reference-serve: error: {err}", file=sys.stderr)
            return 2
    if args.command == "exec":
        return run_script(args.script, args.args, module=args.module)
    if args.command == "build":
        return _build(args)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.path.insert(0, str(Path(args.app_dir).resolve()))
    stop = threading.Event()
    # Both end the run cleanly. NOTE: SIGINT is set explicitly because a process started in
    # the background by a non-interactive shell inherits it as ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        config = _config_for(args)
        api.run_config(config)
    except ServeError as err:  # a replica failed to start, the port is taken, ...
        print(f"reference-serve: error: {err}", file=sys.stderr)
        api.shutdown()
        return 1
    except (ConfigError, ValueError, TypeError, ImportError) as err:
        print(f"reference-serve: error: {err}", file=sys.stderr)
        api.shutdown()
        return 2
    except Exception as err:
        print(f"reference-serve: error: {err}", file=sys.stderr)
        api.shutdown()
        return 1
    instance = api.running_instance()
    assert instance is not None
    routes = ", ".join(f"{a.route_prefix} -> {a.name}" for a in config.applications)
    print(f"Serving on {instance.url} ({routes}); press Ctrl-C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        api.shutdown()
        print("Stopped.", flush=True)
    return 0
