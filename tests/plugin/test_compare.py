"""report.html (one self-contained page) and `pytest-serve compare` (reports side by side)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytest_serve.observe import Figure, Observation
from pytest_serve.reporting import model as serve_report
from pytest_serve.reporting import render_markdown, write_report
from pytest_serve.reporting.compare import Comparison, figures_differ
from pytest_serve.reporting.html import render_html
from pytest_serve.reporting.integrity import Integrity

CLI_TIMEOUT_S = 60


def _clause(cid: str, verdict: str, *observations: Observation, message: str = "") -> serve_report.ClauseResult:
    outcome = {"pass": "passed", "deviation": "failed", "fail": "failed"}[verdict]
    test = serve_report.TestOutcome(f"test_x.py::test_{cid.lower()}", outcome, 0.5, message, list(observations))
    return serve_report.ClauseResult(cid, "documented", cid.split("-")[0], f"promise {cid}", verdict, [test])


def _report(name: str, version: str, ka1_close: float | str, ka1_verdict: str, cancel: float) -> serve_report.Report:
    """A report with KA-1 (an idle close), CAN-2 (a latency) and STR-1 (two timelines)."""
    clauses = [
        _clause("KA-1", ka1_verdict, Observation("idle close after", ka1_close, "s", "5 s", ["KA-1"])),
        _clause("CAN-2", "pass", Observation("CancelledError after disconnect", cancel, "s", "within 5 s", ["CAN-2"])),
        _clause(
            "STR-1",
            "pass",
            Observation("largest lag behind the generator", 0.004, "s", "≤ 0.4 s", ["STR-1"], key=True),
            Observation("yielded at", [0.0, 0.1, 0.2], "s", clauses=["STR-1"]),
            Observation("arrived at", [0.0, 0.104, 0.21], "s", clauses=["STR-1"]),
        ),
    ]
    if ka1_verdict == "deviation":
        clauses[0].deviation_reason = "keeps idle connections 90 s"
        clauses[0].tests[0].message = "AssertionError: closed after 90.0 s <script>alert(1)</script>"
    files = {"test_ka.py": "0" * 64}
    integrity = Integrity("a" * 64, files, {"class": "x.Adapter", "sha256": "b" * 64})
    impl = {"name": name, "version": version, "adapter": "x.Adapter"}
    return serve_report.Report("0.1.0", "cat", impl, {"python": "3.11"}, "now", 1.0, clauses, [], integrity)


@pytest.fixture
def reports() -> tuple[serve_report.Report, serve_report.Report]:
    """Function scope · (reference-like, Ray-like) reports: KA-1 5 s pass vs 90 s deviation."""
    return _report("reference", "0.1.0", 5.01, "pass", 0.0009), _report("ray", "2.60.0", 90.02, "deviation", 0.003)


class _Tags(HTMLParser):
    """Every tag and its attributes, and whether each opened tag was closed (void ones aside)."""

    VOID = frozenset({"meta", "br"})

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()


def test_html_report_is_self_contained(reports: tuple[serve_report.Report, serve_report.Report]) -> None:
    """One page: inline style, no script, nothing loaded from elsewhere; well nested; text escaped."""
    page = render_html(reports[1])
    parser = _Tags()
    parser.feed(page)
    assert parser.open == [], f"never closed: {parser.open}"
    names = {tag for tag, _ in parser.tags}
    assert "script" not in names and "link" not in names and "img" not in names
    for tag, attrs in parser.tags:
        for key in ("src", "href"):
            assert not attrs.get(key), f"<{tag} {key}={attrs.get(key)!r}> loads something"
    assert "<style>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_html_report_expands_each_clause_with_tests_figures_and_timeline(
    reports: tuple[serve_report.Report, serve_report.Report],
) -> None:
    """Each clause is a <details> with its figure in the summary; opened, it lists tests,
    observed against expected, and a timeline SVG of the two arrival series."""
    page = render_html(reports[1])
    clauses = re.findall(r'<details class="clause" id="([^"]+)"( open)?>', page)
    assert clauses == [("KA-1", " open"), ("CAN-2", ""), ("STR-1", "")]  # what did not pass is open
    ka1 = page.split('id="KA-1"', 1)[1].split("</details>", 1)[0]
    assert "idle close after 90.0 s; expected 5 s" in ka1
    assert '<td>idle close after</td><td class="num">90.0 s</td><td>5 s</td>' in ka1
    str1 = page.split('id="STR-1"', 1)[1].split("</details>", 1)[0]
    svg = re.search(r"<svg .*?</svg>", str1, re.S)
    assert svg is not None, "no timeline for the stream"
    tree = ET.fromstring(svg.group(0))  # well-formed XML on its own
    texts = [t.text for t in tree.iter("{http://www.w3.org/2000/svg}text")]
    assert "yielded at" in texts and "arrived at" in texts
    titles = [el.text for el in tree.iter("{http://www.w3.org/2000/svg}title")]
    assert len(titles) == 6 and "arrived at #2: 0.210 s" in titles, titles


def test_comparison_marks_verdict_and_figure_differences(
    reports: tuple[serve_report.Report, serve_report.Report],
) -> None:
    """KA-1 differs in verdict and in figure (5 s vs 90 s, shown as figures); CAN-2's
    sub-millisecond latencies are noise, not a difference; STR-1 is alike."""
    comparison = Comparison(list(reports))
    markdown = comparison.to_markdown()
    assert "| | reference 0.1.0 | ray 2.60.0 |" in markdown
    assert "| ≠ KA-1 | pass: idle close after 5.01 s | **deviation**: ≠ idle close after 90.0 s |" in markdown, markdown
    assert (
        "| CAN-2 | pass: CancelledError after disconnect 0.9 ms | pass: CancelledError after disconnect 3.0 ms |"
        in markdown
    )
    assert (
        "| STR-1 | pass: largest lag behind the generator 4.0 ms | pass: largest lag behind the generator 4.0 ms |"
        in markdown
    )
    assert "Verdicts unlike reference 0.1.0's: KA-1." in markdown
    assert "Figures 2× or more apart from reference 0.1.0's: KA-1." in markdown
    html = comparison.to_html()
    row = html.split('<td class="cid">KA-1</td>', 1)[1].split("</tr>", 1)[0]
    assert '<td class="differs"><span class="badge v-deviation">deviation</span>' in row
    assert "idle close after 90.0 s" in row and "idle close after 5.01 s" in row


def test_comparison_shows_why_a_clause_without_a_figure_failed(
    reports: tuple[serve_report.Report, serve_report.Report],
) -> None:
    """A failure with no figure shows the start of its reason, the exception's class
    without its module; a pass shows nothing more."""
    failing = _report("handles-only", "1.0", 5.0, "pass", 0.001)
    reason = "pytest_serve.adapters.base.NoHTTPError: no HTTP here, so this test cannot run: " + "x" * 100
    failing.clauses.append(_clause("RET-1", "fail", message=reason))
    first = reports[0]
    first.clauses.append(_clause("RET-1", "pass"))
    comparison = Comparison([first, failing])
    row = next(line for line in comparison.to_markdown().splitlines() if line.startswith("| ≠ RET-1 |"))
    assert row.startswith("| ≠ RET-1 | pass | **fail**: NoHTTPError: no HTTP here, so this test cannot run: xx"), row
    assert row.endswith("… |") and "pytest_serve.adapters" not in row, row
    html_row = comparison.to_html().split('<td class="cid">RET-1</td>', 1)[1].split("</tr>", 1)[0]
    assert '<span class="figure">NoHTTPError: no HTTP here' in html_row, html_row


@pytest.mark.parametrize(
    ("a", "b", "differ"),
    [
        ((5.0, "s"), (90.0, "s"), True),
        ((0.0009, "s"), (0.003, "s"), False),  # 3× apart, but both well below timer noise
        ((0.2, "s"), (0.5, "s"), True),
        ((2.0, "s"), (3.0, "s"), False),
        ((4, "calls"), (2, "calls"), True),
        ((5.0, "s"), ("still open after 100 s", "s"), True),
    ],
)
def test_figures_differ_by_a_factor_beyond_noise(a: tuple[object, str], b: tuple[object, str], differ: bool) -> None:
    """Two figures differ when 2× or more apart and further apart than timer noise, or of another kind."""
    first = Figure("f", [a[0]], a[1], "")  # type: ignore[list-item]
    second = Figure("f", [b[0]], b[1], "")  # type: ignore[list-item]
    assert figures_differ(first, second) is differ


def _write(report: serve_report.Report, directory: Path) -> Path:
    write_report(report, directory)
    return directory


def test_compare_command_writes_markdown_and_html(
    tmp_path: Path, reports: tuple[serve_report.Report, serve_report.Report]
) -> None:
    """`pytest-serve compare DIR JSON --markdown F --html G` writes both; without them it prints Markdown."""
    first = _write(reports[0], tmp_path / "reference")
    second = _write(reports[1], tmp_path / "ray") / "report.json"
    command = [sys.executable, "-m", "pytest_serve", "compare", str(first), str(second)]
    done = subprocess.run(
        [*command, "--markdown", str(tmp_path / "c.md"), "--html", str(tmp_path / "c.html")],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    assert "| ≠ KA-1 |" in (tmp_path / "c.md").read_text(encoding="utf-8")
    assert (tmp_path / "c.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    printed = subprocess.run(command, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert printed.returncode == 0 and "| ≠ KA-1 |" in printed.stdout


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, "no such file"),
        ("not json", "cannot read it as JSON"),
        (json.dumps({"x": 1}), "not a pytest-serve report"),
    ],
)
def test_compare_names_a_bad_report(tmp_path: Path, content: str | None, error: str) -> None:
    """A missing, unreadable or foreign file ends `compare` with exit 2 and one line naming it."""
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content, encoding="utf-8")
    good = _write(_report("reference", "0.1.0", 5.0, "pass", 0.001), tmp_path / "good")
    done = subprocess.run(
        [sys.executable, "-m", "pytest_serve", "compare", str(good), str(bad)],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"pytest-serve compare: {bad}") and error in done.stderr, done.stderr


def test_report_round_trips_through_json(reports: tuple[serve_report.Report, serve_report.Report]) -> None:
    """A report read back from its JSON renders the same Markdown and HTML (compare and verify rely on it)."""
    for report in reports:
        again = serve_report.Report.from_json(json.loads(json.dumps(report.to_json())))
        assert render_markdown(again) == render_markdown(report)
        assert render_html(again) == render_html(report)
