"""`reference-serve run|start|build|deploy|status|config|shutdown|exec` (also
`python -m reference_impl ...`), with the arguments and output of Ray's `serve` CLI.

`run` and `start` serve until interrupted, with Serve's REST API beside the proxy (as Ray's
dashboard does) so that `deploy`, `status`, `config` and `shutdown`, or Ray's own `serve`
commands, can drive them. The commands that import apps put the Ray alias in place first,
so code written with `from ray import serve` runs unchanged on the reference.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from . import api, ray_alias, rest_client
from .config import ConfigError
from .config_file import ServeConfig, load_config
from .exceptions import AddressUnavailableError, ServeError
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
    _dashboard_flags(run, -1)  # as Ray's `serve run`, which starts no dashboard
    _alias_flag(run)
    start = sub.add_parser(
        "start",
        help="start Serve with no apps and its REST API, for `deploy` (or Ray's `serve deploy`)",
        description="Start the reference's Serve (no applications) and the REST API Ray's dashboard "
        "serves for Serve, then serve until interrupted; deploy to it with `reference-serve deploy` "
        "or Ray's `serve deploy --address`.",
    )
    start.add_argument("--http-host", default=None, help="the proxy's bind address (default 127.0.0.1)")
    start.add_argument("--http-port", type=int, default=None, help="the proxy's port (default 8000; 0 = any free)")
    _dashboard_flags(start, 8265)
    _alias_flag(start)
    deploy = sub.add_parser(
        "deploy",
        help="deploy a config file or import path to a running instance's REST API, as Ray's `serve deploy`",
    )
    deploy.add_argument("config_or_import_path", help="a Serve config file or `module:app`")
    deploy.add_argument("arguments", nargs="*", metavar="key=value", help="builder arguments, with an import path")
    deploy.add_argument("--name", default=None, help="application name for an import path (default 'default')")
    _address_flag(deploy)
    status = sub.add_parser("status", help="the status of each application, as Ray's `serve status`")
    status.add_argument("-n", "--name", default=None, help="only this application")
    _address_flag(status)
    config = sub.add_parser("config", help="each application's deployed config, as Ray's `serve config`")
    config.add_argument("-n", "--name", default=None, help="only this application")
    _address_flag(config)
    shutdown = sub.add_parser("shutdown", help="shut Serve down, deleting every application, as Ray's `serve shutdown`")
    shutdown.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    _address_flag(shutdown)
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


def _dashboard_flags(parser: argparse.ArgumentParser, default_port: int) -> None:
    parser.add_argument("--dashboard-host", default="127.0.0.1", help="the REST API's bind address (default 127.0.0.1)")
    parser.add_argument(
        "--dashboard-port",
        type=int,
        default=default_port,
        help=f"the REST API's port (Ray's dashboard uses 8265; default {default_port}; 0 = any free; -1 = none)",
    )


def _address_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-a",
        "--address",
        default=rest_client.DEFAULT_ADDRESS,
        help="the REST API's address (default $RAY_DASHBOARD_ADDRESS or http://localhost:8265)",
    )


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


def _client_command(args: argparse.Namespace) -> int:
    """deploy, status, config, shutdown: Ray's output; errors on stderr, exit code 1."""
    try:
        if args.command == "deploy":
            config = _deploy_config(args)  # checked here first, as Ray's CLI does
        client = rest_client.RestClient(args.address)
        try:
            if args.command == "deploy":
                client.deploy(config.model_dump(mode="json", exclude_unset=True))
                print(
                    "Sent deploy request successfully.\n"
                    " * Use `serve status` to check applications' statuses.\n"
                    " * Use `serve config` to see the current application config(s)."
                )
            elif args.command == "status":
                text = rest_client.render_status(client.details(), args.name)
                if text is None:  # on stdout with exit code 0, as Ray's `serve status`
                    print(f'Application "{args.name}" does not exist.')
                else:
                    print(text, end="")
            elif args.command == "config":
                print(rest_client.render_config(client.details(), args.name), end="")
            else:
                return _shutdown(client, args.yes)
        finally:
            client.close()
    except (rest_client.RestError, ConfigError) as err:
        print(f"reference-serve {args.command}: error: {err}", file=sys.stderr)
        return 1
    return 0


def _deploy_config(args: argparse.Namespace) -> ServeConfig:
    target: str = args.config_or_import_path
    if Path(target).is_file():
        if args.arguments:
            raise ConfigError("Application arguments cannot be specified for a config file.")
        print(f"Deploying from config file: '{target}'.")
        if args.name is not None:  # as Ray's `serve deploy` says
            print("Passed in name is ignored when using config file")
        return load_config(target)
    print(f"Deploying from import path: '{target}'.")
    app = {"import_path": target, "args": _builder_arguments(args.arguments)}
    if args.name is not None:
        app["name"] = args.name
    return load_config({"applications": [app]})


def _shutdown(client: rest_client.RestClient, yes: bool) -> int:
    if not client.details().get("controller_info", {}).get("node_id"):
        print(f"No Serve instance found running on the cluster at {client.address}.")
        return 0
    if not yes:
        answer = input(
            f'This will shut down Serve on the cluster at address "{client.address}" and delete all '
            "applications there. Do you want to continue? [y/N]: "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("Aborted!", file=sys.stderr)
            return 1
    client.shutdown()
    print("Sent shutdown request; applications will be deleted asynchronously.")
    return 0


def _serve(args: argparse.Namespace) -> int:
    """run and start: deploy (run) or start empty (start), with the REST API, until Ctrl-C."""
    from .rest_api import RestAPI

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    # Both end the run cleanly. NOTE: SIGINT is set explicitly because a process started in
    # the background by a non-interactive shell inherits it as ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    rest: RestAPI | None = None
    try:
        if args.command == "run":
            sys.path.insert(0, str(Path(args.app_dir).resolve()))
            config = _config_for(args)
            api.run_config(config)
            routes = ", ".join(f"{a.route_prefix} -> {a.name}" for a in config.applications)
        else:
            sys.path.insert(0, os.getcwd())  # where `deploy`'s import paths are found, as on Ray
            options = {k: v for k, v in (("host", args.http_host), ("port", args.http_port)) if v is not None}
            api.start(http_options=options)
            routes = "no applications yet"
        if args.dashboard_port >= 0:
            try:
                rest = RestAPI(args.dashboard_host, args.dashboard_port)
            except AddressUnavailableError as err:
                raise AddressUnavailableError(f"the REST API: {err} (choose another with --dashboard-port)") from None
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
    print(f"Serving on {instance.url} ({routes}); press Ctrl-C to stop.", flush=True)
    if rest is not None:
        print(f"REST API on {rest.url} (serve deploy/status/config/shutdown --address {rest.url})", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        if rest is not None:
            rest.stop()
        api.shutdown()
        print("Stopped.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("deploy", "status", "config", "shutdown"):
        return _client_command(args)
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
    return _serve(args)
