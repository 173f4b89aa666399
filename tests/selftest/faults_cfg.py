"""Faults that break the CFG clauses (Serve config files) of the reference."""

from __future__ import annotations

from typing import Any

import pytest
from faulty import fault

from reference_impl import api, config_file


@fault("config-overrides-dropped", "CFG-1")
def _(mp: pytest.MonkeyPatch) -> None:
    """`deployments:` entries are parsed and then dropped: the code's options stay."""

    def code_only(app: Any, overrides: Any, app_name: str) -> dict[str, Any]:
        return {node.deployment.name: node.deployment for node in app.walk()}

    mp.setattr(api, "apply_overrides", code_only)


@fault("builder-args-as-dict", "CFG-2")
def _(mp: pytest.MonkeyPatch) -> None:
    """A typed builder gets its `args` as a plain dict, not validated into its model."""
    mp.setattr(api, "builder_args", lambda builder, args: dict(args))


@fault("unknown-config-keys-refused", "CFG-3")
def _(mp: pytest.MonkeyPatch) -> None:
    """Keys Ray's schema lacks make the file invalid instead of being ignored."""
    load = config_file.load_config

    def strict(source: Any) -> Any:
        if isinstance(source, dict) and config_file.unknown_fields(source):
            raise config_file.ConfigError(f"unknown fields: {config_file.unknown_fields(source)}")
        return load(source)

    for module in (config_file, api):
        mp.setattr(module, "load_config", strict)
