"""Small conversions shared by the modules."""

from __future__ import annotations

from ctypes import c_int32
from typing import Iterable, Union


def to_bytes(text: Union[str, bytes, bytearray]) -> bytes:
    if isinstance(text, (bytes, bytearray)):
        return bytes(text)
    return text.encode("utf-8")


def token_array(tokens: Iterable[int]):
    seq = list(tokens)
    return (c_int32 * max(len(seq), 1))(*seq), len(seq)
