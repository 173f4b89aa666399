"""Faults that break the PFX clauses (route prefixes) of the reference implementation."""

from __future__ import annotations

from faulty import fault


@fault("pfx-prefix-ignored", "PFX-1")
def _(mp):
    """`serve.run(..., route_prefix=X)` deploys the app at `/` whatever X is."""
    from reference_impl import instance

    original = instance.ServeInstance.deploy

    def deploy(self, app, name, route_prefix):
        return original(self, app, name, None if route_prefix is None else "/")

    mp.setattr(instance.ServeInstance, "deploy", deploy)


@fault("pfx-config-prefix-ignored", "PFX-2")
def _(mp):
    """A config file's `applications[].route_prefix` is dropped (the app lands at `/`).

    NOTE: the reference adapter reads config files with the plugin's generic
    `Adapter.deploy_config` (not `reference_impl.api.run_config`), so the fault sits there.
    """
    from pytest_serve.adapters.reference import ReferenceAdapter

    original = ReferenceAdapter.deploy_config

    def deploy_config(self, config, env):
        apps = [{k: v for k, v in entry.items() if k != "route_prefix"} for entry in config.get("applications") or []]
        return original(self, {**config, "applications": apps}, env)

    mp.setattr(ReferenceAdapter, "deploy_config", deploy_config)


@fault("pfx-subpaths-unrouted", "PFX-3")
def _(mp):
    """Only the prefix itself (and prefix + `/`) is routed; deeper sub-paths get 404."""
    from reference_impl.runtime import route_table as routes

    original = routes.RouteTable.match

    def match(self, path):
        found = original(self, path)
        if found is None or found.prefix == "/" or path in (found.prefix, found.prefix + "/"):
            return found
        return None

    mp.setattr(routes.RouteTable, "match", match)


@fault("pfx-shortest-prefix-wins", "PFX-4")
def _(mp):
    """The route table tries the shortest prefix first."""
    from reference_impl.runtime import route_table as routes

    def reorder(self):
        self._ordered = tuple(sorted(self._targets.items(), key=lambda kv: len(kv[0])))

    mp.setattr(routes.RouteTable, "_reorder", reorder)


@fault("pfx-prefix-not-segment", "PFX-4")
def _(mp):
    """Prefixes match as plain string prefixes: `/a/bc` goes to the app at `/a/b`."""
    from reference_impl.runtime import route_table as routes

    def match(self, path):
        for prefix, target in self._ordered:
            if path.startswith(prefix):
                return routes.Match(prefix, target)
        return None

    mp.setattr(routes.RouteTable, "match", match)
