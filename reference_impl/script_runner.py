"""`reference-serve exec`: run a script as `python` would, on the reference.

Like `coverage run`, the script becomes `__main__` with its own `sys.argv` and its
folder first on `sys.path`; its exit status is ours, and an exception it raises
ends the run with a traceback (of the script's frames only) and status 1.
"""

from __future__ import annotations

import os
import runpy
import sys
import traceback
from collections.abc import Sequence

__all__ = ["run_script"]


def run_script(target: str, args: Sequence[str], *, module: bool = False) -> int:
    if not module and not os.path.isfile(target):
        print(f"reference-serve: error: can't open file {target!r}: no such file", file=sys.stderr)
        return 2
    sys.argv = [target, *args]
    sys.path.insert(0, os.getcwd() if module else os.path.dirname(os.path.abspath(target)))
    try:
        if module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exit_:
        return _status(exit_.code)
    except BaseException as err:  # as `python script.py`: the traceback, then status 1
        tb = err.__traceback__
        while tb is not None and tb.tb_frame.f_globals.get("__name__") in (__name__, "runpy"):
            tb = tb.tb_next
        traceback.print_exception(type(err), err, tb)
        return 1
    return 0


def _status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
