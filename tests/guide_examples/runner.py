"""Run the guide's examples in subprocesses, with a deadline on every wait.

`materialize` writes one of the guide's examples (kept once, as the guide has them, in
the `conformance` package's `guide/` folder) into a directory, changed only so that it
runs on the reference implementation. `run_example` runs such a script to its end.
`ExampleProcess` keeps one running (usually `driver.py` serving an example) and reads
its output line by line, so a test can act at the moment a line appears. Both merge
stderr into stdout, run Python unbuffered, and kill the process when a deadline
passes. No pytest import.
"""

from __future__ import annotations

import errno
import importlib.resources
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

__all__ = [
    "DRIVER",
    "GUIDE",
    "HOST",
    "PORT",
    "ExampleProcess",
    "materialize",
    "port_in_use",
    "run_example",
]

GUIDE = importlib.resources.files("conformance") / "guide"  # exNN_*.py: the guide's code
DRIVER = Path(__file__).parent / "driver.py"
HOST = "127.0.0.1"
PORT = 8000  # the examples hard-code http://localhost:8000 (Serve's default address)


def port_in_use(host: str = HOST, port: int = PORT) -> bool:
    """Whether something listens on `host:port`, checked the way the server binds."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # NOTE: the server sets SO_REUSEADDR too, so TIME_WAIT leftovers of the
        # previous example do not count as "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return True
            raise
    return False


# The one change that makes an example run here: Serve comes from the reference
# implementation, and the guide's unused `import ray` goes.
_SERVE_IMPORT = ("from ray import serve", "from reference_impl import serve")
_RAY_IMPORT = "import ray"


def materialize(name: str, directory: Path) -> Path:
    """Write the guide's example `name` (e.g. "ex01_query_params") into `directory` as
    `<name>.py`, with `from ray import serve` swapped for the reference implementation's
    `serve` and the `import ray` line dropped; nothing else changes. Returns its path."""
    lines = []
    for line in (GUIDE / f"{name}.py").read_text(encoding="utf-8").splitlines(keepends=True):
        code = line.rstrip("\n")
        if code == _RAY_IMPORT:
            continue
        if code == _SERVE_IMPORT[0]:
            line = line.replace(*_SERVE_IMPORT)
        lines.append(line)
    script = directory / f"{name}.py"
    script.write_text("".join(lines), encoding="utf-8")
    return script


def _command(script: Path, *args: str) -> list[str]:
    return [sys.executable, "-u", str(script), *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def run_example(script: Path, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `script` to its end; past `timeout` s, kill it and raise AssertionError."""
    try:
        return subprocess.run(
            _command(script),
            cwd=cwd,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as err:  # subprocess.run has killed it already
        output = err.output or ""
        if isinstance(output, bytes):  # TimeoutExpired carries undecoded bytes
            output = output.decode(errors="replace")
        raise AssertionError(
            f"{script.name} did not finish within {timeout} s and was killed; output:\n{output}"
        ) from None


class ExampleProcess:
    """A running script whose output lines are read with deadlines.

    `expect(text)` consumes lines until one contains `text`, so successive calls
    also check the order. `finish()` closes stdin (the driver's signal to shut
    down) and waits; leaving the `with` block kills whatever still runs.
    """

    def __init__(self, script: Path, *args: str, cwd: Path) -> None:
        self.lines: list[str] = []  # every line read so far, for messages
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._proc = subprocess.Popen(
            _command(script, *args),
            cwd=cwd,
            env=_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, name="example-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)  # end of output: the process has exited

    def output(self) -> str:
        return "\n".join(self.lines)

    def expect(self, text: str, timeout: float) -> str:
        """The next line containing `text`; AssertionError if none within `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(remaining, 0.0))
            except queue.Empty:
                raise AssertionError(
                    f"no line containing {text!r} within {timeout} s; output so far:\n{self.output()}"
                ) from None
            if line is None:
                self._queue.put(None)  # keep later calls from blocking
                raise AssertionError(
                    f"the process closed its output (exit code {self._proc.poll()}) before "
                    f"printing {text!r}; output:\n{self.output()}"
                )
            self.lines.append(line)
            if text in line:
                return line

    def finish(self, timeout: float) -> int:
        """Close stdin, wait for the exit and the rest of the output; return the exit code."""
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout)
            raise AssertionError(
                f"the process did not exit within {timeout} s of its stdin closing; killed it; output:\n{self.output()}"
            ) from None
        self._reader.join(timeout)
        while not self._queue.empty():
            line = self._queue.get_nowait()
            if line is not None:
                self.lines.append(line)
        return code

    def __enter__(self) -> ExampleProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait(10)
        self._reader.join(10)
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()
