"""PFX: route prefixes place apps, in `serve.run` and in config files.

The path an app sees is compared with the one the client sent (`response.request.url.path`):
on a shared cluster the session's own route root comes before the test's prefix.
"""

from __future__ import annotations

import pytest


@pytest.mark.clause("PFX-1")
def test_pfx_1_route_prefix_moves_the_app(serve, serve_app):
    """With only one app, deployed at `/x`: `/x` reaches it; `/`, `/y` and `/xy` (outside
    `/x` on a segment boundary) answer 404 and never reach it."""

    @serve.deployment
    class Moved:
        def __call__(self, request):
            return "at /x"

    app = serve_app(Moved.bind(), route_prefix="/x")
    assert app.url.endswith("/x")
    here = app.http.get("/x")
    assert here.status_code == 200 and here.text == "at /x", here.text
    for outside in ("/", "/y", "/xy"):
        response = app.http.get(outside)
        assert response.status_code == 404, (outside, response.status_code, response.text)
        assert response.text != "at /x"


@pytest.mark.clause("PFX-2")
def test_pfx_2_route_prefix_from_config_file(serve_config, serve_module):
    """A Serve config file's `applications[].route_prefix: /cfg` places the app written in
    a module beside it (`import_path`): `/cfg` and `/cfg/sub` reach it, `/` answers 404."""
    module = serve_module(
        """
        @serve.deployment
        class FromConfig:
            def __call__(self, request):
                return {"app": "from-config", "path": request.url.path}

        app = FromConfig.bind()
        """
    )
    [app] = serve_config({"applications": [{"name": "pfx2", "route_prefix": "/cfg", "import_path": f"{module}:app"}]})
    for path in ("/cfg", "/cfg/sub"):
        response = app.http.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == {"app": "from-config", "path": path}
    assert app.http.get("/").status_code == 404


@pytest.mark.clause("PFX-3")
def test_pfx_3_sub_paths_reach_call(serve, serve_app):
    """A plain `__call__` app at `/p` echoes `request.url.path`: `/p`, `/p/`, `/p/a/b` and
    `/p/a/b/` all reach it, each seen with the path the client asked for."""

    @serve.deployment
    class Echo:
        def __call__(self, request):
            return {"path": request.url.path}

    app = serve_app(Echo.bind(), route_prefix="/p")
    for path in ("/p", "/p/", "/p/a/b", "/p/a/b/"):
        response = app.http.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text)
        assert response.json() == {"path": response.request.url.path}


@pytest.mark.clause("PFX-4")
def test_pfx_4_longest_prefix_wins(serve, serve_app):
    """Apps `a` at `/a` (deployed first) and `ab` at `/a/b` each answer their name: `/a/b`,
    `/a/b/` and `/a/b/c` go to `ab`; `/a`, `/a/x` and `/a/bc` (not on a segment boundary of
    `/a/b`) go to `a`."""

    @serve.deployment
    class Named:
        def __init__(self, name):
            self.name = name

        def __call__(self, request):
            return self.name

    a = serve_app(Named.bind("a"), route_prefix="/a", name="a")
    serve_app(Named.bind("ab"), route_prefix="/a/b", name="ab")
    expected = {"/a/b": "ab", "/a/b/": "ab", "/a/b/c": "ab", "/a": "a", "/a/x": "a", "/a/bc": "a"}
    got = {}
    for path in expected:
        response = a.http.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text)
        got[path] = response.text
    assert got == expected
