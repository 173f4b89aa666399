"""The not-testable grade, instance facts in the report, the keep-alive check, the options of
cluster mode, and what works without Ray: the session namespace and probe channels."""

from __future__ import annotations

import dataclasses
import pickle
import types
from pathlib import Path

import pytest

from pytest_serve.adapters.cluster_view import Namespace, SessionServe
from pytest_serve.keepalive import keep_alive_verdict
from pytest_serve.probe import FileChannel, Probe
from pytest_serve.reporting.model import TestOutcome as Outcome
from pytest_serve.reporting.model import grade

from .helpers import Run, output_of, read_report, verdicts

# An adapter for a "shared instance" whose keep-alive is 6 s and whose environment is
# not the plugin's: the reference implementation behind check_testable and instance_facts.
SHARED_ADAPTER = """
from pytest_serve.adapters.reference import ReferenceAdapter


class SharedAdapter(ReferenceAdapter):
    name = "shared"

    def check_testable(self, http_options, env, defaults=()):
        wanted = {k: v for k, v in http_options.items() if k not in ("host", "port")}
        if env:
            return "needs its own environment"
        if wanted and wanted != {"keep_alive_timeout_s": 6}:
            return f"needs {wanted}; the instance runs with keep_alive_timeout_s=6"
        if "keep_alive_timeout_s" in defaults:
            return "checks the default keep-alive; the instance sets 6"
        return None

    def instance_facts(self):
        return {
            "serve_http_options": {"keep_alive_timeout_s": 6},
            "proxy_idle_close": {"url": "http://proxy", "seconds": 6.01},
            "keep_alive_check": {"verdict": "risk", "detail": "not shorter"},
        }
"""

TESTS = """
import pytest

@pytest.mark.clause("RET-1")
def test_runs(serve, serve_app):
    @serve.deployment
    def ok():
        return "ok"

    assert serve_app(ok.bind()).http.get("/").text == "ok"

@pytest.mark.clause("KA-3")
@pytest.mark.serve_env(SOME_VAR="1")
def test_needs_env(serve_instance):
    raise AssertionError("must not run")

@pytest.mark.clause("KA-4")
@pytest.mark.serve_http_options(keep_alive_timeout_s=1)
def test_needs_options(serve_instance):
    raise AssertionError("must not run")

@pytest.mark.clause("KA-5")
@pytest.mark.serve_http_options(keep_alive_timeout_s=6)
def test_same_options_run(serve_instance):
    pass

@pytest.mark.clause("KA-1")
@pytest.mark.serve_needs_defaults("keep_alive_timeout_s")
def test_needs_default(serve_instance):
    raise AssertionError("must not run")

@pytest.mark.clause("PFX-1")
def test_half_testable_passes(serve_instance):
    pass

@pytest.mark.clause("PFX-1")
@pytest.mark.serve_env(OTHER="1")
def test_half_testable_not(serve_instance):
    raise AssertionError("must not run")
"""


def test_not_testable_grade_and_instance_facts_in_the_report(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """Tests the instance cannot run as they need are skipped, not run; their clauses are
    graded not-testable with the adapter's reason (also when another test of the clause
    passed), the status names them, and the adapter's instance facts reach both outputs."""
    pytester.makepyfile(shared_adapter=SHARED_ADAPTER)
    pytester.makepyfile(TESTS)
    report_dir = pytester.path / "report"
    result = run_subprocess(
        "--serve-impl=shared_adapter:SharedAdapter",
        f"--serve-report={report_dir}",
        "--clause=RET",
        "--clause=KA",
        "--clause=PFX",
    )
    result.assert_outcomes(passed=3, skipped=4)
    report = read_report(report_dir)
    assert verdicts(report) == {
        "RET-1": "pass",
        "KA-1": "not-testable",
        "KA-3": "not-testable",
        "KA-4": "not-testable",
        "KA-5": "pass",
        "PFX-1": "not-testable",
    }
    reasons = {c["id"]: c["untestable_reason"] for c in report["clauses"] if c["untestable_reason"]}
    assert reasons == {
        "KA-1": "checks the default keep-alive; the instance sets 6",
        "KA-3": "needs its own environment",
        "KA-4": "needs {'keep_alive_timeout_s': 1}; the instance runs with keep_alive_timeout_s=6",
        "PFX-1": "needs its own environment",
    }
    notes = {c["id"]: c["note"] for c in report["clauses"]}
    assert (
        notes["PFX-1"]
        == "not testable on this instance: needs its own environment (1 other test(s) of the clause passed)"
    )
    assert report["instance_facts"]["proxy_idle_close"]["seconds"] == 6.01
    out = output_of(result)
    # These clause tests are not the suite's own: the run is a "modified suite", which wins.
    status = "FAILED (modified suite; partial run: RET, KA, PFX; not a certification; not testable here: "
    assert status + "PFX-1, KA-1, KA-3, KA-4)" in out
    assert "load-balancer keep-alive check: risk — not shorter" in out
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "| proxy_idle_close | 6.01 s at http://proxy |" in markdown
    assert "**Load-balancer keep-alive check: risk** — not shorter" in markdown


def test_all_guide_clauses_not_testable_or_passing_certify_as_configured() -> None:
    """A full run with a not-testable guide clause and no failure is certified, and says
    which clauses that leaves out."""
    from conformance.clauses import CLAUSES
    from pytest_serve.reporting.model import ClauseResult, Report

    clauses = [
        ClauseResult(c.id, c.level, c.group, c.text, "not-testable" if c.id == "KA-2" else "pass", tier=c.tier)
        for c in CLAUSES.values()
    ]
    report = Report("0", "hash", {"name": "ray"}, {}, "now", 1.0, clauses)
    assert report.certified
    assert report.status == "CERTIFIED AS CONFIGURED (1 clause(s) not testable here: KA-2)"
    clauses[0].verdict = "fail"
    assert report.status == "NOT CERTIFIED"


def test_grade_not_testable_loses_to_failure() -> None:
    untestable = Outcome("t1", "not-testable", message="needs X")
    assert grade([untestable], None) == ("not-testable", "not testable on this instance: needs X")
    assert grade([untestable, Outcome("t2", "failed")], None)[0] == "fail"
    assert grade([untestable, Outcome("t2", "error")], None)[0] == "error"


@pytest.mark.parametrize(
    ("serve_s", "client_s", "verdict"),
    [
        (6.0, 2.0, "ok"),  # the balancer closes first
        (None, 60.0, "ok"),  # Serve keeps idle connections past the watch; the balancer does not
        (6.0, 6.0, "risk"),  # a tunnel passing Serve's close on: the balancer waits at least as long
        (6.0, 5.8, "risk"),  # within the margin
        (6.0, None, "risk"),  # the balancer keeps them past the watch
        (None, None, "unknown"),
    ],
)
def test_keep_alive_verdict(serve_s: float | None, client_s: float | None, verdict: str) -> None:
    got, detail = keep_alive_verdict(serve_s, client_s, 100.0)
    assert got == verdict, detail
    if verdict != "unknown":
        assert "Serve's proxy" in detail


def test_instance_facts_come_back_from_xdist_workers(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """Under xdist the workers hold the running instances: the facts their adapters
    observed (here: only once started, as the cluster adapter's) reach the controller's
    report."""
    started_only = (
        SHARED_ADAPTER
        + """

class StartedAdapter(SharedAdapter):
    started = False

    def start(self, http_options, env):
        super().start(http_options, env)
        self.started = True

    def instance_facts(self):
        return super().instance_facts() if self.started else {}
"""
    )
    pytester.makepyfile(shared_adapter=started_only)
    pytester.makepyfile(TESTS)
    report_dir = pytester.path / "report"
    result = run_subprocess(
        "--serve-impl=shared_adapter:StartedAdapter", f"--serve-report={report_dir}", "--clause=RET", "-n", "2"
    )
    result.assert_outcomes(passed=1)
    assert read_report(report_dir)["instance_facts"]["proxy_idle_close"]["seconds"] == 6.01


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--ray-address=127.0.0.1:6379",), "--ray-address applies to --serve-impl=ray only"),
        (("--serve-url=http://lb",), "--serve-url applies to --serve-impl=ray only"),
    ],
)
def test_cluster_options_need_ray(
    pytester: pytest.Pytester, run_inprocess: Run, args: tuple[str], message: str
) -> None:
    """--ray-address and --serve-url with another implementation are one-line usage errors."""
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = run_inprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: pytest-serve: {message}*"])


def test_namespace_maps_names_and_prefixes() -> None:
    ns = Namespace("psv-0123abcd")
    assert ns.name("ka1") == "psv-0123abcd-ka1"
    assert (ns.prefix("/"), ns.prefix("/ka1"), ns.prefix(None)) == ("/psv-0123abcd", "/psv-0123abcd/ka1", None)
    assert ns.owns("psv-0123abcd-ka1") and not ns.owns("psv-ffffffff-ka1") and not ns.owns("operator")
    assert ns.original(ns.name("a-b")) == "a-b"
    assert ns.name(ns.name("a")) == ns.name("a"), "a name that is already the cluster's stays"
    assert Namespace.new().tag != Namespace.new().tag


def test_namespace_unmasks_messages() -> None:
    ns = Namespace("psv-0123abcd")
    message = (
        'Prefix /psv-0123abcd/p is being used by application "psv-0123abcd-a". '
        'Failed to deploy application "psv-0123abcd-b" at /psv-0123abcd.'
    )
    assert ns.unmask(message) == 'Prefix /p is being used by application "a". Failed to deploy application "b" at /.'
    err = ns.unmask_error(RuntimeError("Deploying application psv-0123abcd-lif1 failed"))
    assert isinstance(err, RuntimeError) and str(err) == "Deploying application lif1 failed"


@dataclasses.dataclass
class _Context:
    """As Ray's ReplicaContext: `app_name` is derived, not a field."""

    replica_id: str
    deployment: str

    @property
    def app_name(self) -> str:
        return self.replica_id.split("#")[0]


@dataclasses.dataclass
class _Deployment:
    message: str


@dataclasses.dataclass
class _App:
    message: str
    deployments: dict[str, _Deployment]


@dataclasses.dataclass
class _Status:
    applications: dict[str, _App]


def test_session_serve_speaks_the_tests_names() -> None:
    """The `serve` of a shared cluster: replicas see the test's app name, status lists the
    session's apps under the test's names, and it pickles as a view in the same session."""
    ns = Namespace("psv-0123abcd")
    calls: list[tuple[str, object]] = []
    serve = types.ModuleType("ray.serve")
    serve.get_replica_context = lambda: _Context("psv-0123abcd-ctx1#r1", "D")  # type: ignore[attr-defined]
    serve.get_app_handle = lambda name: calls.append(("app", name))  # type: ignore[attr-defined]
    serve.status = lambda: _Status(  # type: ignore[attr-defined]
        {
            "psv-0123abcd-a": _App("psv-0123abcd-a failed", {"D": _Deployment("in psv-0123abcd-a")}),
            "operator": _App("", {}),
        }
    )
    view = SessionServe(serve, ns)
    context = view.get_replica_context()
    assert (context.app_name, context.deployment, context.replica_id) == ("ctx1", "D", "psv-0123abcd-ctx1#r1")
    view.get_app_handle("other")
    assert calls == [("app", "psv-0123abcd-other")]
    assert view.status().applications == {"a": _App("a failed", {"D": _Deployment("in a")})}
    rebuild, args = view.__reduce__()
    assert args == ("psv-0123abcd",) and isinstance(rebuild, types.FunctionType)


def test_probe_channels(tmp_path: Path) -> None:
    """A probe takes a path or a channel, not both; it pickles with its channel, and a
    process that cannot see the file fails when it records, not when it unpickles."""
    with pytest.raises(ValueError, match="not both"):
        Probe(tmp_path / "a", channel=FileChannel(tmp_path / "b"))
    with pytest.raises(ValueError):
        Probe()
    probe = Probe(tmp_path / "events.jsonl")
    probe.record("one", tag="x")
    copy = pickle.loads(pickle.dumps(probe))
    copy.record("two")
    assert probe.names() == ["one", "two"] and copy.path == probe.path
    missing = pickle.loads(pickle.dumps(probe))
    missing.channel.path = str(tmp_path / "no-such-dir" / "events.jsonl")  # type: ignore[attr-defined]
    with pytest.raises(FileNotFoundError):
        missing.record("three")
