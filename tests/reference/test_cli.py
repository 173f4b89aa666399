"""cli.py: `python -m reference_impl run <config.yaml | module:app>` as a subprocess."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reference_impl.config import KEEP_ALIVE_ENV_VAR

STARTUP_S = 30.0  # a fresh interpreter imports FastAPI, pydantic and uvicorn first
EXIT_S = 15.0
SERVING = re.compile(r"^Serving on (http://127\.0\.0\.1:\d+) \((.*)\); press Ctrl-C to stop\.$")

APP_MODULE = """\
from reference_impl import serve


@serve.deployment
def hello():
    return "hello from the CLI"


app = hello.bind()


@serve.deployment
class Greeting:
    def __init__(self, text):
        self.text = text

    def __call__(self):
        return self.text


def greeting(args):
    return Greeting.bind(f"{args['word']}, {args['name']}")
"""

CONFIG = """\
http_options:
  port: 0
applications:
  - name: tiny
    route_prefix: /tiny
    import_path: cli_app:app
"""


def _env() -> dict[str, str]:
    """This process's environment without the keep-alive override a developer may have set."""
    return {k: v for k, v in os.environ.items() if k != KEEP_ALIVE_ENV_VAR}


class Server:
    """A CLI subprocess whose stdout lines are read by a thread, so waits have deadlines.

    stderr (the log) goes to a file, so a chatty server never blocks on a full pipe.
    """

    def __init__(self, args: list[str], cwd: Path, log: Path) -> None:
        self._log = log
        with log.open("w") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "reference_impl", "run", *args],
                cwd=cwd,
                env=_env(),
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for_url(self) -> str:
        """The URL from the 'Serving on ...' line, read within STARTUP_S."""
        deadline = time.monotonic() + STARTUP_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"exited {self.proc.wait(EXIT_S)}: {self.stderr()}")
            self.stdout.append(line)
            if match := SERVING.match(line):
                return match.group(1)
        raise AssertionError(f"no 'Serving on' line within {STARTUP_S} s: {self.stdout}")

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Send `sig`, wait for exit (EXIT_S) and collect the rest of stdout."""
        self.proc.send_signal(sig)
        code = self.proc.wait(EXIT_S)
        self._reader.join(EXIT_S)
        while (line := self.lines.get(timeout=EXIT_S)) is not None:
            self.stdout.append(line)
        return code

    def stderr(self) -> str:
        return self._log.read_text()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(EXIT_S)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """Function scope, `Path`: a directory with `cli_app.py` and `serve.yaml` (port 0)."""
    (tmp_path / "cli_app.py").write_text(APP_MODULE)
    (tmp_path / "serve.yaml").write_text(CONFIG)
    return tmp_path


@pytest.fixture
def cli(app_dir: Path) -> Iterator[list[Server]]:
    """Function scope, `list[Server]`: CLI processes a test started, killed if still alive."""
    servers: list[Server] = []
    yield servers
    for server in servers:
        server.kill()


def _run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI to its exit (it fails at startup here) within STARTUP_S."""
    return subprocess.run(
        [sys.executable, "-m", "reference_impl", "run", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=STARTUP_S,
    )


def test_run_config_file_serves_until_sigint(app_dir: Path, cli: list[Server]) -> None:
    """`run serve.yaml --app-dir DIR` prints its URL, serves; SIGINT → exit 0, 'Stopped.'."""
    args = [str(app_dir / "serve.yaml"), "--app-dir", str(app_dir)]
    server = Server(args, cwd=app_dir.parent, log=app_dir / "stderr.log")
    cli.append(server)
    url = server.wait_for_url()
    assert server.stdout[-1].endswith("(/tiny -> tiny); press Ctrl-C to stop.")
    assert httpx.get(f"{url}/tiny", timeout=10).text == "hello from the CLI"
    assert server.stop(signal.SIGINT) == 0
    assert server.stdout[-1] == "Stopped."
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/-/healthz", timeout=10)


def test_run_config_file_applies_head_limits(app_dir: Path, cli: list[Server]) -> None:
    """`max_request_header_bytes` and `request_header_timeout_s` in the config file's
    http_options hold: a 4 KB header gets 431 under a 2 KiB cap; a silent connection
    is closed after the 1 s bound, unanswered."""
    limited = CONFIG.replace(
        "  port: 0\n", "  port: 0\n  max_request_header_bytes: 2048\n  request_header_timeout_s: 1\n"
    )
    (app_dir / "limited.yaml").write_text(limited)
    server = Server([str(app_dir / "limited.yaml"), "--app-dir", str(app_dir)], cwd=app_dir, log=app_dir / "err.log")
    cli.append(server)
    url = server.wait_for_url()
    assert httpx.get(f"{url}/tiny", headers={"x-big": "a" * 1000}, timeout=10).status_code == 200
    assert httpx.get(f"{url}/tiny", headers={"x-big": "a" * 4000}, timeout=10).status_code == 431
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as silent:
        began = time.monotonic()
        assert silent.recv(1) == b""  # closed by the server, within the socket's 10 s
        assert time.monotonic() - began >= 0.8
    assert server.stop(signal.SIGINT) == 0


def test_run_import_path_with_port_zero(app_dir: Path, cli: list[Server]) -> None:
    """`run cli_app:app --port 0` (cwd as app dir) serves at '/' and stops on SIGTERM too."""
    server = Server(["cli_app:app", "--port", "0"], cwd=app_dir, log=app_dir / "stderr.log")
    cli.append(server)
    url = server.wait_for_url()
    assert httpx.get(f"{url}/", timeout=10).text == "hello from the CLI"
    assert server.stop(signal.SIGTERM) == 0
    assert server.stdout[-1] == "Stopped."


def test_run_passes_key_value_arguments_to_a_builder(app_dir: Path, cli: list[Server]) -> None:
    """`run cli_app:greeting word=Hi name=Ada` calls the builder with those args (strings), as
    Ray's `serve run` does."""
    server = Server(["cli_app:greeting", "word=Hi", "name=Ada", "--port", "0"], cwd=app_dir, log=app_dir / "e.log")
    cli.append(server)
    url = server.wait_for_url()
    assert httpx.get(f"{url}/", timeout=10).text == "Hi, Ada"
    assert server.stop(signal.SIGTERM) == 0


def test_build_writes_the_config_ray_builds(app_dir: Path) -> None:
    """`build cli_app:app -o FILE` writes Ray's instance defaults and the app, which `run`
    then takes back (tests/ray_step compares it with Ray's own `serve build`)."""
    import yaml

    out = app_dir / "built.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "reference_impl", "build", "cli_app:app", "-o", str(out)],
        cwd=app_dir,
        capture_output=True,
        text=True,
        timeout=STARTUP_S,
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# This file was generated using the `serve build` command on Ray v2.60.0.")
    config = yaml.safe_load(text)
    assert config["proxy_location"] == "EveryNode" and config["grpc_options"]["port"] == 9000
    assert config["applications"] == [
        {
            "name": "app1",
            "route_prefix": "/",
            "import_path": "cli_app:app",
            "runtime_env": {},
            "deployments": [{"name": "hello"}],
        }
    ]


def test_bad_config_exits_2_naming_the_field(app_dir: Path) -> None:
    """A config with a bad field exits 2; stderr names the field and the bad value."""
    (app_dir / "bad.yaml").write_text(CONFIG.replace("port: 0", "port: not-a-port"))
    done = _run_cli(["bad.yaml"], cwd=app_dir)
    assert done.returncode == 2
    assert "reference-serve: error: Invalid Serve config file" in done.stderr
    assert "http_options.port: Input should be a valid integer" in done.stderr
    assert "'not-a-port'" in done.stderr
    assert "Serving on" not in done.stdout


def test_unimportable_app_exits_2(app_dir: Path) -> None:
    """An import path naming a missing module exits 2 with the module named."""
    done = _run_cli(["no_such_module:app", "--port", "0"], cwd=app_dir)
    assert done.returncode == 2
    assert "Cannot import module 'no_such_module'" in done.stderr


def test_busy_port_exits_1(app_dir: Path) -> None:
    """A port already taken is a runtime failure: exit 1 with the bind error."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = _run_cli(["cli_app:app", "--port", str(port)], cwd=app_dir)
    assert done.returncode == 1
    assert f"Failed to bind to address '127.0.0.1:{port}'" in done.stderr


RAY_SCRIPT = """\
import sys

import requests
import ray
from ray import serve


@serve.deployment
class Echo:
    def __call__(self, request):
        return request.query_params["say"]


serve.start(http_options={"port": 0})
serve.run(Echo.bind(), route_prefix="/echo")
from reference_impl import api  # the script learns the free port; a real one would know it
url = api.running_instance().url
assert requests.get(url + "/echo", params={"say": "hi"}).text == "hi"
print("script argv:", sys.argv[1:], "main:", __name__)
sys.exit(int(sys.argv[1]))
"""


def _exec(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reference_impl", "exec", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=STARTUP_S + EXIT_S,
    )


def test_exec_runs_an_unchanged_ray_script(tmp_path: Path) -> None:
    """`reference-serve exec script.py ARGS` runs a `from ray import serve` script as
    `__main__` with its own argv; the script's exit code is the command's."""
    (tmp_path / "script.py").write_text(RAY_SCRIPT)
    done = _exec(tmp_path, "script.py", "0", "--flag")
    assert done.returncode == 0, done.stderr
    assert "script argv: ['0', '--flag'] main: __main__" in done.stdout
    assert _exec(tmp_path, "script.py", "3").returncode == 3


def test_exec_reports_a_failing_script_like_python(tmp_path: Path) -> None:
    """An exception in the script: its traceback (the script's frames, not the runner's)
    and exit code 1; a missing script: exit code 2 and its name."""
    (tmp_path / "boom.py").write_text("import ray\nray.get(1)\n")
    done = _exec(tmp_path, "boom.py")
    assert done.returncode == 1
    assert 'File "' in done.stderr and 'boom.py", line 2' in done.stderr, done.stderr
    assert "`ray.get` is not available" in done.stderr
    assert "scripts.py" not in done.stderr, done.stderr
    missing = _exec(tmp_path, "nope.py")
    assert missing.returncode == 2 and "nope.py" in missing.stderr


def test_run_serves_an_unchanged_ray_app(cli: list[Server], app_dir: Path) -> None:
    """`reference-serve run module:app` where the module does `from ray import serve`."""
    (app_dir / "ray_app.py").write_text(APP_MODULE.replace("from reference_impl import serve", "from ray import serve"))
    server = Server(["ray_app:app", "--port", "0"], app_dir, app_dir / "log.txt")
    cli.append(server)
    url = server.wait_for_url()
    assert httpx.get(url + "/", timeout=10).text == "hello from the CLI"
    assert server.stop() == 0
