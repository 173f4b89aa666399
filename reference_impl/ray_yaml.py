"""YAML as Ray's `serve` CLI prints it (`build`, `status`, `config`): a blank line between
top-level keys, multi-line strings (tracebacks) as literal blocks, keys in their order."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["dump"]


class _Dumper(yaml.SafeDumper):
    def write_line_break(self, data: str | None = None) -> None:
        super().write_line_break(data)
        if len(self.indents) == 1:  # only between top-level keys
            super().write_line_break()


def _string(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if len(data.splitlines()) > 1:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _string)


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
