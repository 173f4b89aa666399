"""Benchmarks: the reference implementation vs bare uvicorn+Starlette vs real Ray Serve.

    python -m bench [--quick] [--no-ray] [--ray-python PATH] [--json PATH]

Each system runs as its own server process on a free 127.0.0.1 port (`systems.py`), so
the load generator (wrk) measures only the server. One module per measurement
(`startup`, `latency`, `throughput`, `cancel`, `stream`, `memory`, `suite`); `report.py`
prints the table with ratios against the targets and writes JSON; `profile.py`
(`python -m bench.profile`) samples the reference under load with py-spy;
`python -m bench.startup` times fresh processes alone, `python -m bench.cpu` CPU per
request side by side (also against another checkout), `python -m bench.hop` the
round trip between two loop threads, and `python -m bench.headers` the request-head
limits. Results are
figures for `docs/performance.md`, not timed tests: nothing here is collected by pytest.
"""

__all__: list[str] = []
