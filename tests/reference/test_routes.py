"""routes.py: the longest-prefix route table, matched on path segments (observed §3)."""

from __future__ import annotations

import pytest

from reference_impl.runtime.route_table import RouteTable


def _table(*prefixes: str) -> RouteTable[str]:
    table: RouteTable[str] = RouteTable()
    for prefix in prefixes:
        table.set(prefix, f"app{prefix}")
    return table


def _matched(table: RouteTable[str], path: str) -> str | None:
    match = table.match(path)
    return None if match is None else match.prefix


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a", "/a"),
        ("/a/", "/a"),
        ("/a/x", "/a"),
        ("/a/b", "/a/b"),
        ("/a/b/", "/a/b"),
        ("/a/b/c", "/a/b"),
        ("/a/bc", "/a"),
        ("/ab", None),
        ("/A", None),
        ("/", None),
    ],
)
@pytest.mark.parametrize("order", [("/a", "/a/b"), ("/a/b", "/a")], ids=["short-first", "long-first"])
def test_overlapping_prefixes_longest_segment_match_wins(
    order: tuple[str, str], path: str, expected: str | None
) -> None:
    """Apps at /a and /a/b: Ray's table, whatever order they were added in."""
    assert _matched(_table(*order), path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/prefix", "/prefix"),
        ("/prefix/", "/prefix"),
        ("/prefix/x/y/", "/prefix"),
        ("/prefixextra", None),
        ("/PREFIX", None),
        ("/Prefix/x", None),
        ("/q/../prefix", "/q"),
    ],
)
def test_prefix_matching_is_literal_and_case_sensitive(path: str, expected: str | None) -> None:
    """No partial-segment, case-folded or dot-segment-normalised matches."""
    assert _matched(_table("/prefix", "/q"), path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/", "/"), ("/anything", "/"), ("/ab", "/"), ("/a", "/a"), ("/a/x", "/a"), ("//x", "/")],
)
def test_root_prefix_catches_everything_else(path: str, expected: str) -> None:
    """'/' receives every path no longer prefix claims."""
    assert _matched(_table("/", "/a"), path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/with space", "/with space"),
        ("/with space/x", "/with space"),
        ("//double", "//double"),
        ("//double/x", "//double"),
        ("/double", None),
    ],
)
def test_unusual_prefixes_ray_accepts_are_routable(path: str, expected: str | None) -> None:
    """'/with space' (decoded path) and '//double' match like any other prefix."""
    assert _matched(_table("/with space", "//double"), path) == expected


def test_match_returns_the_target() -> None:
    """A match carries the prefix and the target that was set for it."""
    match = _table("/a").match("/a/b")
    assert match is not None and (match.prefix, match.target) == ("/a", "app/a")


def test_set_replaces_and_remove_forgets() -> None:
    """Setting a prefix again replaces its target; removing it (or an unknown one) is safe."""
    table = _table("/a", "/a/b")
    table.set("/a/b", "new")
    assert table.get("/a/b") == "new"
    table.remove("/a/b")
    table.remove("/never-set")
    assert _matched(table, "/a/b/c") == "/a"
    assert table.items() == [("/a", "app/a")]
    assert table.get("/a/b") is None
