"""Whether a session runs `from ray import serve` code on the reference, and saying so.

As moto's users must see that AWS is mocked, the pytest header names what
`import ray` gives in this session.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reference_impl import ray_alias

__all__ = ["RayAliasState", "alias_state"]

_OFF = {"0", "false", "no", "off"}


@dataclass
class RayAliasState:
    impl: str
    wanted: bool
    reason: str  # why not, when not wanted
    _owned: bool = field(default=False, repr=False)

    def install(self) -> None:
        if not ray_alias.is_installed():
            ray_alias.install()
            self._owned = True  # a session nested in one that installed it leaves it be

    def uninstall(self) -> None:
        if self._owned:
            ray_alias.uninstall()
            self._owned = False

    def header(self) -> str:
        line = f"pytest-serve: implementation {self.impl}"
        if not self.wanted:
            return f"{line}; `import ray` is not aliased ({self.reason})"
        real = ray_alias.real_ray_version()
        beside = f"Ray {real} is installed and hidden" if real else "Ray is not installed"
        return (
            f"{line}; `from ray import serve` runs on the reference implementation ({beside}; "
            "--no-serve-ray-alias turns this off)"
        )


def alias_state(impl: str, *, option: bool | None, ini: bool, env: str | None) -> RayAliasState:
    """Decide from --serve-impl, --no-serve-ray-alias, $PYTEST_SERVE_RAY_ALIAS and the ini key."""
    if impl != "reference":
        return RayAliasState(impl, False, f"--serve-impl={impl}")
    if option is False:
        return RayAliasState(impl, False, "--no-serve-ray-alias")
    if env is not None and env.strip().lower() in _OFF:
        return RayAliasState(impl, False, f"PYTEST_SERVE_RAY_ALIAS={env}")
    if not ini:
        return RayAliasState(impl, False, "serve_ray_alias = false")
    return RayAliasState(impl, True, "")
