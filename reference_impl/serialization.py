"""Values crossing a handle call, as Ray's process boundary passes them: by copy.

Ray pickles a call's arguments and its result (cloudpickle, protocol 5 with numpy's
buffers out of band, read-only on the other side). So does the reference, in one
process, so that what a test sees here is what it sees on Ray: a replica that mutates
an argument does not change the caller's object, a returned value is not the replica's
own, an argument that cannot be pickled fails the call, and numpy arrays arrive
read-only. Objects that Ray passes as references (deployment handles) say so with
`__reduce__` returning `by_reference(self)`: the copy is the object itself.
"""

from __future__ import annotations

import itertools
import pickle
import threading
import weakref
from typing import Any

import cloudpickle

__all__ = ["by_reference", "copy_value"]

_kept: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_ids = itertools.count()
_lock = threading.Lock()


def by_reference(obj: Any) -> tuple[Any, tuple[int]]:
    """A `__reduce__` value that unpickles, in this process, to `obj` itself."""
    with _lock:
        key = next(_ids)
        _kept[key] = obj
    return _restore, (key,)


def _restore(key: int) -> Any:
    return _kept[key]


def copy_value(value: Any) -> Any:
    """`value` pickled and unpickled, as Ray passes it. Raises what pickling raised."""
    if value is None or type(value) in _IMMUTABLE:
        return value
    buffers: list[pickle.PickleBuffer] = []
    try:
        data = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    except Exception:
        # Local classes, lambdas, closures: what cloudpickle exists for (Ray uses it).
        buffers.clear()
        data = cloudpickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    # bytes, so the other side's arrays are read-only, as in Ray's object store.
    return pickle.loads(data, buffers=[bytes(b.raw()) for b in buffers])


# Values whose copy is indistinguishable from themselves.
_IMMUTABLE = frozenset({bool, int, float, complex, str, bytes})
