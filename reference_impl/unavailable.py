"""The one error for a Ray name the reference does not run, its wording, and the stand-in
object that raises it when used."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

__all__ = ["HINT", "RayAPIUnavailableError", "Unavailable", "ray_names_getattr", "unavailable"]

HINT = (
    "run it on real Ray instead: `pytest --serve-impl=ray`, or plain `python` without "
    "`reference-serve exec`; to keep real `ray` importable next to the reference, pass "
    "`--no-serve-ray-alias` to pytest or `--no-ray-alias` to reference-serve"
)


class RayAPIUnavailableError(AttributeError):
    """A Ray API outside what the reference runs was used while `ray` is its stand-in.

    An AttributeError, so `hasattr(ray, "remote")` is False rather than an error.
    """


def unavailable(name: str) -> NoReturn:
    raise RayAPIUnavailableError(
        f"`{name}` is not available: `ray` is pytest-serve's stand-in here, which runs only "
        f"the Ray Serve API, on the reference implementation; {HINT}."
    )


class Unavailable:
    """Stands for a name of Ray's API that the reference does not run: importing it works
    (so a module that names it loads), and any use of it raises RayAPIUnavailableError
    naming it, instead of half-working."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        unavailable(self._name)

    __call__ = _refuse
    __getitem__ = _refuse
    __instancecheck__ = _refuse
    __subclasscheck__ = _refuse
    __iter__ = _refuse
    __bool__ = _refuse

    def __mro_entries__(self, bases: tuple[object, ...]) -> NoReturn:
        unavailable(self._name)

    def __getattr__(self, attr: str) -> NoReturn:
        if attr.startswith("__"):
            raise AttributeError(attr)
        unavailable(f"{self._name}.{attr}")

    def __repr__(self) -> str:
        return f"<{self._name}: not available on the reference implementation>"


def ray_names_getattr(ray_module: str) -> Callable[[str], Unavailable]:
    """A module `__getattr__` for the reference's stand-in of `ray_module`: Ray's names
    that the module lacks give an `Unavailable`; any other name is an AttributeError."""
    from .ray_names import RAY_NAMES

    names = RAY_NAMES.get(ray_module, frozenset())

    def __getattr__(name: str) -> Unavailable:
        if name in names:
            return Unavailable(f"{ray_module}.{name}")
        raise AttributeError(f"module {ray_module!r} has no attribute {name!r}")

    return __getattr__
