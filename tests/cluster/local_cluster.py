"""A two-node Ray cluster on this machine, started with `ray start` as an operator would.

- The head (127.0.0.3) has no CPUs, as KubeRay recommends: every replica (one CPU each
  by default) lands on the worker node. Serve's controller and its one proxy
  (`proxy_location="HeadOnly"`) run on the head.
- The worker node (127.0.0.2, another loopback address) runs in a mount namespace of its
  own with a /tmp that holds only the Python environment (when that lives under /tmp),
  so files the test runner writes under /tmp (the file probe's) do not exist there, as
  on another host.
- Every port is chosen here (none of Ray's defaults, never 8000) and everything is
  stopped by killing the process groups this module started: other Ray sessions on
  the machine are never touched.

No pytest import here: `python -m tests.cluster.local_cluster` starts one by hand.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ClusterError", "LocalCluster", "free_port"]

# Loopback addresses Ray keeps as given (it replaces 127.0.0.1 with the machine's address).
HEAD_IP = "127.0.0.3"
WORKER_IP = "127.0.0.2"
SERVE_HOST = "127.0.0.1"
WORKER_CPUS = 16  # logical: the suite runs a few replicas at once
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0
RAY_BIN = str(Path(sys.executable).with_name("ray"))


class ClusterError(RuntimeError):
    """The local cluster could not be started; the message says what failed."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _paths_under_tmp() -> list[Path]:
    """The directories under /tmp that Ray and the suite's code are run from (the Python
    environment, `sys.path`, PYTHONPATH): the outermost of each nest, existing ones only."""
    candidates = [sys.prefix, os.path.dirname(RAY_BIN), *sys.path]
    candidates += os.environ.get("PYTHONPATH", "").split(os.pathsep)
    tmp = Path("/tmp")
    found = {Path(c).resolve() for c in candidates if c and os.path.isabs(c)}
    found = {p for p in found if p.is_dir() and tmp in p.parents}
    return sorted(p for p in found if not any(q in p.parents for q in found))


def _ports() -> list[str]:
    """Every per-node port `ray start` would otherwise take a default for."""
    return [
        f"--node-manager-port={free_port()}",
        f"--object-manager-port={free_port()}",
        f"--metrics-export-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
    ]


@dataclass
class LocalCluster:
    """`start()` it, use `address` and `serve_url`, `stop()` it (also on failure)."""

    keep_alive_timeout_s: float = 6.0
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="psv-cluster-")))
    port: int = 0
    serve_port: int = 0
    worker_node_id: str = ""
    head_node_id: str = ""
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{HEAD_IP}:{self.port}"

    @property
    def serve_url(self) -> str:
        return f"http://{SERVE_HOST}:{self.serve_port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        env.update({"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"})
        return env

    def start(self) -> None:
        try:
            self._start_head()
            self._start_worker()
            self._wait_for_nodes()
            self._start_serve()
        except BaseException:
            self.stop()
            raise

    def _spawn(self, args: list[str], log: str) -> None:
        out = open(self.root / log, "wb")  # noqa: SIM115 - kept open for the process' life
        self._procs.append(
            subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True)
        )

    def _start_head(self) -> None:
        self.port = free_port()
        args = [RAY_BIN, "start", "--head", "--block", f"--node-ip-address={HEAD_IP}", f"--port={self.port}"]
        # The dashboard process starts even with --include-dashboard=false: give it a port too.
        args += ["--num-cpus=0", "--include-dashboard=false", f"--dashboard-port={free_port()}"]
        args += ["--disable-usage-stats"]
        args += [f"--ray-client-server-port={free_port()}", "--min-worker-port=0", "--max-worker-port=0"]
        args += [f"--temp-dir={self.root / 'head'}", *_ports()]
        self._spawn(args, "head.log")

    def _start_worker(self) -> None:
        ray_args = [RAY_BIN, "start", "--block", f"--address={self.address}", f"--node-ip-address={WORKER_IP}"]
        ray_args += [f"--num-cpus={WORKER_CPUS}", "--min-worker-port=0", "--max-worker-port=0", *_ports()]
        script = self._private_tmp(ray_args)
        self._spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], "worker.log")

    def _private_tmp(self, command: list[str]) -> str:
        """A shell script that gives the worker node a /tmp of its own, then runs `command`.

        The new /tmp is a tmpfs built on a staging directory, with the paths the node needs
        from the real /tmp (a virtualenv or a checkout under /tmp) bound back in, and then
        moved over /tmp: the runner's other files under /tmp are not there."""
        stage = self.root / "worker-tmp"
        stage.mkdir(exist_ok=True)
        lines = ["set -e", f"mount -t tmpfs psv-worker-tmp {shlex.quote(str(stage))}"]
        for path in _paths_under_tmp():
            target = shlex.quote(str(stage / path.relative_to("/tmp")))
            lines += [f"mkdir -p {target}", f"mount --bind {shlex.quote(str(path))} {target}"]
        lines += [f"mount --move {shlex.quote(str(stage))} /tmp", "exec " + shlex.join(command)]
        return "\n".join(lines)

    def _run_driver(self, code: str, timeout: float = 90.0) -> str:
        """Run `code` as a short-lived driver connected to the cluster; return its stdout."""
        prelude = f"import json, ray\nray.init(address={self.address!r}, log_to_driver=False)\n"
        try:
            done = subprocess.run(
                [sys.executable, "-c", prelude + textwrap.dedent(code)],
                capture_output=True,
                env=self.env(),
                timeout=timeout,
                cwd=self.root,
            )
        except subprocess.TimeoutExpired:
            raise ClusterError(f"a driver on the cluster did not finish within {timeout:.0f} s") from None
        if done.returncode != 0:
            raise ClusterError(f"a driver on the cluster failed: {done.stderr.decode(errors='replace')[-2000:]}")
        return done.stdout.decode()

    def nodes(self) -> list[dict[str, object]]:
        out = self._run_driver(
            "print(json.dumps([{k: n[k] for k in ('NodeID', 'NodeManagerAddress', 'Alive', 'Resources')}"
            " for n in ray.nodes()]))"
        )
        return list(json.loads(out.strip().splitlines()[-1]))

    def _wait_for_nodes(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        last: object = None
        while time.monotonic() < deadline:
            self._check_processes()
            try:
                alive = [n for n in self.nodes() if n["Alive"]]
            except ClusterError as err:
                last = err
                time.sleep(1)
                continue
            by_ip = {n["NodeManagerAddress"]: str(n["NodeID"]) for n in alive}
            if HEAD_IP in by_ip and WORKER_IP in by_ip:
                self.head_node_id, self.worker_node_id = by_ip[HEAD_IP], by_ip[WORKER_IP]
                return
            last = f"alive nodes: {sorted(by_ip)}"
            time.sleep(0.5)
        raise ClusterError(f"the two nodes did not come up within {START_TIMEOUT_S:.0f} s ({last}){self._logs()}")

    def _check_processes(self) -> None:
        for proc in self._procs:
            if proc.poll() is not None:
                raise ClusterError(f"{proc.args!r} exited with {proc.returncode}{self._logs()}")

    def _logs(self) -> str:
        tails = []
        for log in ("head.log", "worker.log"):
            path = self.root / log
            if path.exists():
                tails.append(f"--- {log} ---\n" + path.read_text(errors="replace")[-1500:])
        return "\n" + "\n".join(tails) if tails else ""

    def _start_serve(self) -> None:
        """Serve as an operator starts it: detached, its proxy on the head only, on a port
        of its own and with a keep-alive of `keep_alive_timeout_s`."""
        self.serve_port = free_port()
        options = {"host": SERVE_HOST, "port": self.serve_port, "keep_alive_timeout_s": self.keep_alive_timeout_s}
        self._run_driver(f"from ray import serve\nserve.start(http_options={options!r}, proxy_location='HeadOnly')\n")

    def deploy_operator_app(self, name: str = "operator", route_prefix: str = "/operator") -> None:
        """An app of the cluster's own, which a certification must leave as it is."""
        code = f"""
        from ray import serve

        @serve.deployment(ray_actor_options={{"num_cpus": 0.1}})
        def operator_app():
            return "operator"

        serve.run(operator_app.bind(), name={name!r}, route_prefix={route_prefix!r})
        """
        self._run_driver(code)

    def serve_apps(self) -> list[str]:
        """Names of the applications Serve runs on the cluster now."""
        out = self._run_driver("from ray import serve\nprint(json.dumps(sorted(serve.status().applications)))")
        return list(json.loads(out.strip().splitlines()[-1]))

    def replica_nodes(self, app_prefix: str) -> dict[str, str]:
        """Replica actor name → node ID, for every replica (alive or dead) of apps whose
        name starts with `app_prefix`, from the GCS's actor table."""
        code = f"""
        from ray._private.state import actors
        found = {{}}
        for info in actors().values():
            name = info.get("Name") or ""
            if name.startswith("SERVE_REPLICA::{app_prefix}"):
                found[name] = info["Address"]["NodeID"]
        print(json.dumps(found))
        """
        out = self._run_driver(code)
        return dict(json.loads(out.strip().splitlines()[-1]))

    def alive(self) -> bool:
        return bool(self._procs) and all(p.poll() is None for p in self._procs)

    def stop(self) -> None:
        """Kill the process groups started here (raylets, GCS, workers, Serve's actors)."""
        for proc in self._procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self._procs:
            # The group's other members (raylet, workers) may outlive the `ray start` process.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self._procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_cluster(keep_alive_timeout_s: float = 6.0) -> Iterator[LocalCluster]:
    cluster = LocalCluster(keep_alive_timeout_s=keep_alive_timeout_s)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


if __name__ == "__main__":
    with running_cluster() as cluster:
        print(f"cluster {cluster.address}, Serve at {cluster.serve_url}; nodes {cluster.nodes()}", flush=True)
        print("Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while cluster.alive():
                time.sleep(1)
