"""A copy of a GGUF file in which two chosen tokens are <think> and </think>.

The weights are untouched, so the model still produces the same token ids;
only their text changes.  Each chosen id trades its vocabulary entry (text
and type) with one of the file's unused control tokens (<|reserved_0|>,
<|reserved_1|>) and is then renamed: the chosen token's old text stays in
the vocabulary (at the reserved id) so that the merges and the tokenizer
still find every piece, and a prompt that never produced the chosen ids
tokenizes as before.  Standard library only.
"""
import struct

_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
           12: "d"}
T_STRING, T_ARRAY = 8, 9
CONTROL = 3


class _Reader:
    def __init__(self, buf):
        self.buf, self.off = buf, 0

    def scalar(self, fmt):
        v = struct.unpack_from("<" + fmt, self.buf, self.off)[0]
        self.off += struct.calcsize("<" + fmt)
        return v

    def string(self):
        n = self.scalar("Q")
        s = self.buf[self.off:self.off + n]
        self.off += n
        return s

    def value(self, t):
        if t == T_STRING:
            return self.string()
        if t == T_ARRAY:
            et, n = self.scalar("I"), self.scalar("Q")
            return et, [self.value(et) for _ in range(n)]
        return self.scalar(_SCALAR[t])


def _pack_array(et, items):
    out = struct.pack("<IIQ", T_ARRAY, et, len(items))
    for v in items:
        out += (struct.pack("<Q", len(v)) + v if et == T_STRING
                else struct.pack("<" + _SCALAR[et], v))
    return out


def write_think_model(src, dst, open_id, close_id):
    buf = open(src, "rb").read()
    r = _Reader(buf)
    magic, version, n_tensors, n_kv = r.scalar("I"), r.scalar("I"), r.scalar("Q"), r.scalar("Q")
    assert magic == 0x46554747 and version == 3, "not a GGUF v3 file"
    kvs, arrays, align = [], {}, 32
    for _ in range(n_kv):
        start = r.off
        key = r.string().decode()
        t = r.scalar("I")
        v = r.value(t)
        kvs.append((key, buf[start:r.off]))
        if key == "general.alignment":
            align = v
        if t == T_ARRAY and key in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
                                    "tokenizer.ggml.scores"):
            arrays[key] = v
    tensors_start = r.off
    for _ in range(n_tensors):
        r.string()
        nd = r.scalar("I")
        r.off += 8 * nd + 4 + 8
    tensor_infos = buf[tensors_start:r.off]
    data = buf[(r.off + align - 1) // align * align:]

    tokens = arrays["tokenizer.ggml.tokens"][1]
    types = arrays["tokenizer.ggml.token_type"][1]
    for chosen, reserved, text in ((open_id, b"<|reserved_0|>", b"<think>"),
                                   (close_id, b"<|reserved_1|>", b"</think>")):
        spare = tokens.index(reserved)
        for _, items in arrays.values():
            items[chosen], items[spare] = items[spare], items[chosen]
        tokens[chosen] = text
        types[chosen] = CONTROL

    out = bytearray(struct.pack("<IIQQ", magic, version, n_tensors, n_kv))
    for key, raw in kvs:
        if key in arrays:
            out += struct.pack("<Q", len(key)) + key.encode() + _pack_array(*arrays[key])
        else:
            out += raw
    out += tensor_infos
    out += b"\0" * ((-len(out)) % align)
    with open(dst, "wb") as f:
        f.write(out)
        f.write(data)
