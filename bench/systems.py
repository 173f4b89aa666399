"""The three systems under test, each started as its own server process.

`System.start()` launches a server script (`servers/`) in a new session on a free
127.0.0.1 port and waits for its `BENCH_READY` line; `Server.stop()` asks it to stop
(SIGTERM), then kills its process group and any descendant still alive (Ray's
raylet, GCS and workers included), so a run leaves no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

__all__ = ["Server", "System", "free_port", "ray", "reference", "starlette"]

_SERVERS = Path(__file__).with_name("servers")
_READY = "BENCH_READY "


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server process: its base URL, what it reported, its files."""

    system: System
    proc: subprocess.Popen[bytes]
    url: str
    info: dict[str, Any]
    events: Path
    log: Path
    spawn_to_ready_s: float
    _log_file: Any = field(repr=False, default=None)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def processes(self) -> list[psutil.Process]:
        """The server process and all its descendants (Ray's raylet and workers too)."""
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_bytes(self) -> int:
        """Resident memory of the process tree (for Ray: shared pages count more than once)."""
        total = 0
        for proc in self.processes():
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total

    def stop(self) -> None:
        """SIGTERM, wait, then SIGKILL the group and every descendant left over."""
        family = self.processes()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.system.stop_timeout_s)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for proc in family:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(family, timeout=5)
        self.proc.wait(5)
        if self._log_file is not None:
            self._log_file.close()


@dataclass
class System:
    """How to start one system's server process."""

    name: str
    label: str
    python: str
    script: str
    extra_args: tuple[str, ...] = ()
    needs_port: bool = False  # Ray cannot bind port 0 and report it back
    ready_timeout_s: float = 30.0
    stop_timeout_s: float = 10.0
    env: dict[str, str] = field(default_factory=dict)  # on top of this process's
    cpus: str | None = None  # pin the server (all its threads and children): `taskset -c`

    def start(self, workdir: Path, *, startup_only: bool = False) -> Server:
        events = Path(tempfile.mkstemp(prefix=f"{self.name}-events-", dir=workdir)[1])
        log = Path(tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log", dir=workdir)[1])
        port = free_port() if self.needs_port else 0
        cmd = (["taskset", "-c", self.cpus] if self.cpus else []) + [self.python]
        cmd += [str(_SERVERS / self.script), *self.extra_args]
        cmd += ["--port", str(port), "--events", str(events)]
        if startup_only:
            cmd.append("--startup-only")
        log_file = open(log, "wb")  # noqa: SIM115 (the server process writes it until stopped)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
        server = Server(self, proc, "", {}, events, log, 0.0, log_file)
        try:
            info = _wait_ready(proc, log, self.ready_timeout_s)
        except BaseException:
            server.stop()
            raise
        server.spawn_to_ready_s = time.perf_counter() - started
        server.url = info["url"]
        server.info = info
        return server


def _wait_ready(proc: subprocess.Popen[bytes], log: Path, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        for line in text.splitlines():
            if line.startswith(_READY):
                return dict(json.loads(line[len(_READY) :]))
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.002)  # the resolution of spawn_to_ready_s
    raise RuntimeError(f"the server was not ready within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def reference(python: str = sys.executable) -> System:
    return System("reference", "reference", python, "serve_app.py", ("--impl", "reference"))


def starlette(python: str = sys.executable) -> System:
    return System("starlette", "uvicorn+Starlette", python, "starlette_app.py")


def ray(python: str) -> System:
    return System(
        "ray",
        "Ray Serve",
        python,
        "serve_app.py",
        ("--impl", "ray"),
        needs_port=True,
        ready_timeout_s=180.0,
        stop_timeout_s=60.0,
    )
