"""`pytest-serve certify --impl ray --ray-address` on a real two-node cluster.

The cluster (see local_cluster.py) has a CPU-less head, so every replica runs on the
worker node, whose /tmp is private: the file probe cannot reach the test runner from
there, and the clauses that watch replicas through `serve_probe` pass only because the
probe crosses hosts through its Ray actor. The run at the proxy certifies the clauses a
cluster tests differently (the whole catalogue with PYTEST_SERVE_CLUSTER_FULL=1): none
may fail or error, and exactly the clauses a cluster cannot take are not testable. The
runs through a reverse proxy certify the clauses of the URL paths. Afterwards the cluster
must still run, with its own app untouched and none of the suite's left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .idle_proxy import running_proxy
from .local_cluster import LocalCluster

CERTIFY_TIMEOUT_S = 900.0
# Each test runs a whole certify (and the first also starts the cluster): past the ini's 120 s.
pytestmark = pytest.mark.timeout(CERTIFY_TIMEOUT_S + 240)
# The whole catalogue takes about 5 minutes here. CI certifies the clauses a cluster tests
# differently: the probe across hosts, names and paths the session renames, settings it
# cannot have. PYTEST_SERVE_CLUSTER_FULL=1 (a nightly run) certifies every clause.
FULL = os.environ.get("PYTEST_SERVE_CLUSTER_FULL") == "1"
CI_CLAUSES = ("CAN-1", "CAN-2", "CAN-4", "STR-1", "WS-1", "KA", "PFX-3", "ING-2", "LIF-1", "CTX-1", "MET-1")
CI_CLAUSES += ("FA-4", "MUX-2", "HLT-1", "CFG-1")
# What a running cluster cannot take (docs/cluster.md): other settings than the
# operator's, a config file (it would replace the cluster's apps), a fresh Serve.
NOT_TESTABLE = {
    "CAN-1": "the cluster runs with request_timeout_s=None",
    "KA-1": "keep_alive_timeout_s=6",
    "KA-2": "config file",
    "KA-3": "$RAY_SERVE_HTTP_KEEP_ALIVE_TIMEOUT_S=2",
    "KA-4": "$RAY_SERVE_HTTP_KEEP_ALIVE_TIMEOUT_S=3",
    "KA-5": "the cluster runs with keep_alive_timeout_s=6",
    "PFX-2": "config file",
    "ERR-2": "config file",
    "HLT-1": "an instance of its own",
    "CFG-1": "config file",
    "CFG-2": "config file",
    "CFG-3": "config file",
}
# Through a reverse proxy: the URL paths (HTTP, a disconnect, streaming, a WebSocket); the
# run that only needs the idle-close figures deploys one trivial app.
PROXY_CLAUSES = {"ok": ("CAN-2", "STR-1", "WS-1"), "risk": ("RET-1",)}
SESSION_APP_PREFIX = "psv-"
# The idle-close figures are measured; they must land near what was configured.
EARLY_S, LATE_S = 0.5, 2.0


def _env(cluster: LocalCluster) -> dict[str, str]:
    env = cluster.env()
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _certify(cluster: LocalCluster, report: Path, *extra: str, clauses: tuple[str, ...] = ()) -> dict[str, Any]:
    """`certify` of `clauses` (default: all); `--workers auto` unless `extra` says otherwise."""
    args = [sys.executable, "-m", "pytest_serve", "certify", "--impl", "ray", "--ray-address", cluster.address]
    args += ["--report", str(report), *extra]
    args += [f"--clause={c}" for c in clauses]
    done = subprocess.run(args, capture_output=True, text=True, env=_env(cluster), timeout=CERTIFY_TIMEOUT_S)
    output = done.stdout[-6000:] + done.stderr[-3000:]
    assert done.returncode == 0, f"certify exited {done.returncode}:\n{output}"
    data: dict[str, Any] = json.loads((report / "report.json").read_text(encoding="utf-8"))
    data["output"] = output
    return data


def _verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in report["clauses"]}


def _assert_left_clean(cluster: LocalCluster) -> None:
    assert cluster.alive(), "the cluster's processes stopped"
    apps = cluster.serve_apps()
    assert "operator" in apps, f"the cluster's own app is gone: {apps}"
    assert not [a for a in apps if a.startswith(SESSION_APP_PREFIX)], f"the suite left apps behind: {apps}"
    assert httpx.get(cluster.serve_url + "/operator", timeout=30).text == "operator"


def _assert_near(figure: dict[str, Any], expected: float, what: str) -> None:
    seconds = figure.get("seconds")
    assert seconds is not None, f"{what}: no figure ({figure})"
    assert expected - EARLY_S <= seconds <= expected + LATE_S, f"{what}: {seconds} s, expected about {expected} s"


@pytest.fixture(scope="module")
def operator_cluster(cluster: LocalCluster) -> LocalCluster:
    cluster.deploy_operator_app()
    return cluster


def test_certify_the_catalogue_with_replicas_on_the_worker_node(operator_cluster: LocalCluster, tmp_path: Path) -> None:
    """Certify at the proxy's own address (every clause with PYTEST_SERVE_CLUSTER_FULL=1),
    with every replica on the worker node: none fails or errors, in any tier; exactly
    those a cluster cannot take are not testable (with the cluster's values named); the
    full report is CERTIFIED AS CONFIGURED; it carries the cluster's settings and idle close."""
    cluster = operator_cluster
    report = _certify(cluster, tmp_path / "report", clauses=() if FULL else CI_CLAUSES)

    def selected(clause: str) -> bool:
        return FULL or clause.startswith(CI_CLAUSES)

    verdicts = {c: v for c, v in _verdicts(report).items() if selected(c)}
    broken = {c: v for c, v in verdicts.items() if v in ("fail", "error", "untested")}
    assert not broken, f"clauses that fail on a healthy cluster: {broken}\n{report['output']}"
    untestable = {c for c, v in verdicts.items() if v == "not-testable"}
    expected = {c for c in NOT_TESTABLE if selected(c)}
    assert untestable == expected, untestable ^ expected
    reasons = {c["id"]: c["untestable_reason"] for c in report["clauses"]}
    for clause in expected:
        assert NOT_TESTABLE[clause] in reasons[clause], f"{clause}: {reasons[clause]}"
    if FULL:
        assert report["status"].startswith("CERTIFIED AS CONFIGURED"), report["status"]
        assert report["api_status"] == "PASSED AS CONFIGURED", report["api_status"]
    else:
        assert report["status"].startswith("PASSED (partial run"), report["status"]
    assert "not testable here: " in report["output"] and "KA-3" in report["output"]
    assert report["integrity"]["problems"] == [], "a cluster's run of the installed suite is unmodified"

    facts = report["instance_facts"]
    assert facts["alive_nodes"] == 2
    assert facts["serve_http_options"]["keep_alive_timeout_s"] == 6
    _assert_near(facts["proxy_idle_close"], 6.0, "Serve's idle close at its proxy")

    replicas = cluster.replica_nodes(facts["namespace"])
    assert replicas, "no replica of the session's apps was found in the cluster's actor table"
    elsewhere = {name: node for name, node in replicas.items() if node != cluster.worker_node_id}
    assert not elsewhere, f"replicas not on the worker node {cluster.worker_node_id}: {elsewhere}"
    _assert_left_clean(cluster)


@pytest.mark.parametrize(("idle_timeout_s", "verdict"), [(2.0, "ok"), (12.0, "risk")])
def test_certify_through_a_reverse_proxy(
    operator_cluster: LocalCluster, tmp_path: Path, idle_timeout_s: float, verdict: str
) -> None:
    """Certify through a reverse proxy (--serve-url) whose idle timeout is not Serve's 6 s:
    HTTP, streaming and WebSocket clauses pass through it, and the report gives the proxy's
    idle close next to Serve's, with the load-balancer check's verdict."""
    cluster = operator_cluster
    with running_proxy("127.0.0.1", cluster.serve_port, idle_timeout_s) as proxy:
        clauses = PROXY_CLAUSES[verdict]
        report = _certify(cluster, tmp_path / "report", "--serve-url", proxy.url, "--workers", "1", clauses=clauses)
    verdicts = _verdicts(report)
    assert [verdicts[c] for c in clauses] == ["pass"] * len(clauses), report["output"]
    facts = report["instance_facts"]
    assert facts["serve_url"] == proxy.url
    _assert_near(facts["proxy_idle_close"], 6.0, "Serve's idle close at its proxy")
    # The proxy closes at its own timeout or, when Serve closes first, passes Serve's close on.
    _assert_near(facts["serve_url_idle_close"], min(idle_timeout_s, 6.0), "idle close through --serve-url")
    assert facts["keep_alive_check"]["verdict"] == verdict, facts["keep_alive_check"]
    assert "load-balancer keep-alive check: " + verdict in report["output"]
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "proxy_idle_close" in markdown and "serve_url_idle_close" in markdown
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "<h2>Observed on the instance</h2>" in html
    assert f"Load-balancer keep-alive check: {verdict}</p>" in html
    _assert_left_clean(cluster)


INTERRUPTED = """
import os, time
from pytest_serve.probe import Probe


def test_file_probe_cannot_reach_the_runner(serve, serve_app, tmp_path):
    probe = Probe(tmp_path / "events.jsonl")

    @serve.deployment
    class Recorder:
        def __init__(self, probe):
            self.probe = probe

        def __call__(self):
            try:
                self.probe.record("seen")
            except OSError as err:
                return "file probe failed: " + type(err).__name__
            return "file probe worked"

    app = serve_app(Recorder.bind(probe), route_prefix="/files")
    assert app.http.get("/files").text == "file probe failed: FileNotFoundError"
    assert probe.events() == []


def test_failing(serve, serve_app):
    @serve.deployment
    def failing():
        return "up"

    serve_app(failing.bind(), route_prefix="/failing", name="failing")
    assert False, "fails on purpose"


def test_interrupted(serve, serve_app):
    @serve.deployment
    def waiting():
        return "up"

    serve_app(waiting.bind(), route_prefix="/waiting", name="waiting")
    open(os.environ["READY_FILE"], "w").close()
    time.sleep(120)
"""


def test_failed_and_interrupted_sessions_leave_the_cluster_clean(
    operator_cluster: LocalCluster, tmp_path: Path
) -> None:
    """A session with a failing test, interrupted (SIGINT, as Ctrl-C) while a test has an app
    deployed, still deletes its apps; and the file probe indeed cannot reach the runner
    from the worker node."""
    cluster = operator_cluster
    (tmp_path / "test_inner.py").write_text(INTERRUPTED, encoding="utf-8")
    ready = tmp_path / "ready"
    env = {**_env(cluster), "READY_FILE": str(ready)}
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-o", "timeout=300"]
    args += ["--serve-impl=ray", f"--ray-address={cluster.address}", str(tmp_path / "test_inner.py")]
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready.exists(), f"the inner session did not reach its last test:\n{proc.communicate(timeout=60)[0]}"
        assert any(a.endswith("-waiting") for a in cluster.serve_apps()), "the interrupted test's app is not deployed"
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert "1 passed" in output and "1 failed" in output, output
    assert "KeyboardInterrupt" in output, output
    _assert_left_clean(cluster)
