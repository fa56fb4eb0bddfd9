"""The owned-C-pointer base class of Model, Session and Grammar, and the
library's buffer-size protocol."""

from __future__ import annotations

import ctypes
from ctypes import byref, c_size_t
from typing import Any, TypeVar

from . import _native as N
from .errors import ClosedError, Error, error_for


def _grow(call, first_size: int) -> bytes:
    """The library's buffer protocol: call(buf, size, &needed) returns
    BUFFER_TOO_SMALL with the needed size stored; retry once with that."""
    size = max(first_size, 1)
    for _ in range(3):
        buf = ctypes.create_string_buffer(size)
        needed = c_size_t(0)
        st = call(buf, size, byref(needed))
        if st == N.OK:
            return buf.raw[:needed.value]
        if st != N.ERR_BUFFER_TOO_SMALL:
            raise error_for(st)
        size = needed.value + 1
    raise Error("buffer size kept changing", status=N.ERR_INTERNAL)


_H = TypeVar("_H", bound="_Handle")


class _Handle:
    """An owned C pointer freed exactly once: close() is idempotent, __del__
    calls it, and every use of a closed handle raises ClosedError."""

    _free = None  # staticmethod set by subclasses
    _kind = "handle"

    def __init__(self):
        self._ptr = None

    @property
    def _h(self):
        if not self._ptr:
            raise ClosedError("%s is closed" % self._kind)
        return self._ptr

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return not self._ptr

    def _release(self):
        ptr, self._ptr = self._ptr, None
        if ptr:
            type(self)._free(ptr)

    def close(self) -> None:
        """Free the C object now (idempotent)."""
        self._release()

    def __enter__(self: "_H") -> "_H":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self):
        # At interpreter shutdown module globals may already be gone.
        try:
            self.close()
        except Exception:
            pass
