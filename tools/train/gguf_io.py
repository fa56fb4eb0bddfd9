"""Minimal GGUF v3 writer and reader (little-endian, alignment 32), enough for lfm2moe files.

Only the value types the lfm2moe layout uses are supported: uint32, int32, float32, bool,
string, and arrays of those; tensors of type F32 (0) or F16 (1).
"""
import struct

import numpy as np

GGUF_MAGIC = 0x46554747  # "GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32

T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY, \
    T_UINT64, T_INT64, T_FLOAT64 = range(13)
_SCALAR_FMT = {T_UINT8: "B", T_INT8: "b", T_UINT16: "H", T_INT16: "h", T_UINT32: "I",
               T_INT32: "i", T_FLOAT32: "f", T_BOOL: "?", T_UINT64: "Q", T_INT64: "q",
               T_FLOAT64: "d"}

GGML_TYPE_F32 = 0
GGML_TYPE_F16 = 1
_NP_OF_GGML = {GGML_TYPE_F32: np.float32, GGML_TYPE_F16: np.float16}


class U32(int):
    pass


class I32(int):
    pass


class F32(float):
    pass


def _pack_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _pack_value(vtype, v):
    if vtype == T_STRING:
        return _pack_str(v)
    return struct.pack("<" + _SCALAR_FMT[vtype], v)


def _infer_type(v):
    if isinstance(v, bool):
        return T_BOOL
    if isinstance(v, I32):
        return T_INT32
    if isinstance(v, (U32, int)):
        return T_UINT32
    if isinstance(v, float):
        return T_FLOAT32
    if isinstance(v, str):
        return T_STRING
    raise TypeError("unsupported metadata value %r" % (v,))


def write_gguf(path, metadata, tensors):
    """metadata: list of (key, value); a value is a python scalar / str, or
    ("array", elem_type, list). Plain ints are written as uint32, floats as float32.
    tensors: list of (name, ggml_type, ndarray) where the ndarray's C-order bytes are the data
    and its numpy shape reversed is ggml's ne (so a torch [out, in] weight has ne {in, out})."""
    out = bytearray()
    out += struct.pack("<IIQQ", GGUF_MAGIC, GGUF_VERSION, len(tensors), len(metadata))
    for key, v in metadata:
        out += _pack_str(key)
        if isinstance(v, tuple) and v[0] == "array":
            _, et, items = v
            out += struct.pack("<IIQ", T_ARRAY, et, len(items))
            for it in items:
                out += _pack_value(et, it)
        else:
            t = _infer_type(v)
            out += struct.pack("<I", t) + _pack_value(t, v)
    blobs = []
    offset = 0
    for name, gtype, arr in tensors:
        arr = np.ascontiguousarray(arr, dtype=_NP_OF_GGML[gtype])
        ne = list(reversed(arr.shape))
        out += _pack_str(name) + struct.pack("<I", len(ne))
        for n in ne:
            out += struct.pack("<Q", n)
        out += struct.pack("<IQ", gtype, offset)
        data = arr.tobytes()
        blobs.append(data)
        offset += len(data)
        offset = (offset + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
    pad = (-len(out)) % ALIGNMENT
    out += b"\0" * pad
    with open(path, "wb") as f:
        f.write(out)
        for data in blobs:
            f.write(data)
            f.write(b"\0" * ((-len(data)) % ALIGNMENT))


def read_gguf(path):
    """-> (metadata dict, {name: ndarray with numpy shape = reversed ne}, {name: ggml type})."""
    buf = open(path, "rb").read()
    off = 0

    def rd(fmt):
        nonlocal off
        v = struct.unpack_from("<" + fmt, buf, off)
        off += struct.calcsize("<" + fmt)
        return v[0]

    def rs():
        nonlocal off
        n = rd("Q")
        s = buf[off:off + n].decode("utf-8")
        off += n
        return s

    def val(t):
        if t == T_STRING:
            return rs()
        if t == T_ARRAY:
            et = rd("I")
            n = rd("Q")
            return [val(et) for _ in range(n)]
        return rd(_SCALAR_FMT[t])

    magic, ver, nt, nkv = rd("I"), rd("I"), rd("Q"), rd("Q")
    if magic != GGUF_MAGIC or ver != GGUF_VERSION:
        raise ValueError("not a GGUF v3 file: %s" % path)
    md = {}
    for _ in range(nkv):
        k = rs()
        md[k] = val(rd("I"))
    infos = []
    for _ in range(nt):
        name = rs()
        nd = rd("I")
        ne = [rd("Q") for _ in range(nd)]
        infos.append((name, ne, rd("I"), rd("Q")))
    align = md.get("general.alignment", ALIGNMENT)
    base = (off + align - 1) // align * align
    tensors, types = {}, {}
    for name, ne, t, o in infos:
        dt = _NP_OF_GGML[t]
        n = int(np.prod(ne))
        a = np.frombuffer(buf, dtype=dt, count=n, offset=base + o)
        tensors[name] = a.reshape(list(reversed(ne)))
        types[name] = t
    return md, tensors, types
