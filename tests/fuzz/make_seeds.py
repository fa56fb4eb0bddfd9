#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

Only the Python standard library.  Model seeds are tiny lfm2moe GGUF images
(a few KB; one carries the real tokenizer metadata of tiny-a-f32.gguf),
their truncations and bit flips, the first KB of the golden files, and
images whose metadata asks for absurd sizes.  Text seeds come from the
golden tokenizer / chat files.  Crashers found by fuzzing are kept in the
same folders under names starting with "crash-", and a coverage-minimized
selection of what the fuzzers found (libFuzzer -merge=1) as "cov-<sha1>";
neither is regenerated here.

usage: python3 tests/fuzz/make_seeds.py   (from the repository root)
"""
import json
import os
import random
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "tests", "golden")
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")

T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64 = 4, 5, 6, 7, 8, 9, 10


def pstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def kv(key, t, v):
    out = pstr(key) + struct.pack("<I", t)
    if t == T_STR:
        return out + pstr(v)
    if t == T_ARR:
        et, items = v
        out += struct.pack("<IQ", et, len(items))
        fmt = {T_I32: "<i", T_U32: "<I"}[et]
        return out + b"".join(struct.pack(fmt, x) for x in items)
    return out + struct.pack({T_U32: "<I", T_I32: "<i", T_F32: "<f", T_BOOL: "<?",
                              T_U64: "<Q"}[t], v)


def golden_kvs(path, prefixes):
    """Raw bytes of the key/value entries of a golden file whose key starts with a prefix."""
    buf = open(path, "rb").read()
    off = 24
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def skip(t):
        nonlocal off
        if t == T_STR:
            n = struct.unpack_from("<Q", buf, off)[0]
            off += 8 + n
        elif t == T_ARR:
            et, n = struct.unpack_from("<IQ", buf, off)
            off += 12
            for _ in range(n):
                skip(et)
        else:
            off += sizes[t]

    n_kv = struct.unpack_from("<Q", buf, 16)[0]
    out = []
    for _ in range(n_kv):
        start = off
        n = struct.unpack_from("<Q", buf, off)[0]
        key = buf[off + 8:off + 8 + n].decode()
        off += 8 + n
        t = struct.unpack_from("<I", buf, off)[0]
        off += 4
        skip(t)
        if key.startswith(prefixes):
            out.append(buf[start:off])
    return out


def tiny_model(rng, n_vocab=16, E=4, tokenizer_kvs=(), tied=True, overrides=None):
    """Two blocks: conv + dense FFN, attention + MoE (2 experts, 1 used)."""
    D, H, Hkv, FF, X, K, F, L = 4, 1, 1, 8, 2, 1, 4, 3
    hp = {"context_length": (T_U32, 64), "embedding_length": (T_U32, E),
          "feed_forward_length": (T_U32, FF), "block_count": (T_U32, 2),
          "attention.head_count": (T_U32, H), "attention.head_count_kv": (T_ARR, (T_I32, [0, Hkv])),
          "rope.freq_base": (T_F32, 1e6), "attention.layer_norm_rms_epsilon": (T_F32, 1e-5),
          "expert_count": (T_U32, X), "expert_used_count": (T_U32, K),
          "expert_feed_forward_length": (T_U32, F), "leading_dense_block_count": (T_U32, 1),
          "expert_gating_func": (T_U32, 2), "vocab_size": (T_U32, n_vocab),
          "shortconv.l_cache": (T_U32, L), "attention.key_length": (T_U32, D)}
    for k, v in (overrides or {}).items():
        hp[k] = v
    kvs = [kv("general.architecture", T_STR, "lfm2moe")]
    kvs += [kv("lfm2moe." + k, t, v) for k, (t, v) in hp.items()]
    kvs += list(tokenizer_kvs)
    tensors = [("token_embd.weight", [E, n_vocab]), ("token_embd_norm.weight", [E])]
    if not tied:
        tensors.append(("output.weight", [E, n_vocab]))
    tensors += [("blk.0.attn_norm.weight", [E]), ("blk.0.ffn_norm.weight", [E]),
                ("blk.0.shortconv.conv.weight", [L, E]),
                ("blk.0.shortconv.in_proj.weight", [E, 3 * E]),
                ("blk.0.shortconv.out_proj.weight", [E, E]),
                ("blk.0.ffn_gate.weight", [E, FF]), ("blk.0.ffn_up.weight", [E, FF]),
                ("blk.0.ffn_down.weight", [FF, E]),
                ("blk.1.attn_norm.weight", [E]), ("blk.1.ffn_norm.weight", [E]),
                ("blk.1.attn_q.weight", [E, H * D]), ("blk.1.attn_k.weight", [E, Hkv * D]),
                ("blk.1.attn_v.weight", [E, Hkv * D]), ("blk.1.attn_output.weight", [H * D, E]),
                ("blk.1.attn_q_norm.weight", [D]), ("blk.1.attn_k_norm.weight", [D]),
                ("blk.1.ffn_gate_inp.weight", [E, X]), ("blk.1.exp_probs_b.bias", [X]),
                ("blk.1.ffn_gate_exps.weight", [E, F, X]), ("blk.1.ffn_up_exps.weight", [E, F, X]),
                ("blk.1.ffn_down_exps.weight", [F, E, X])]
    out = bytearray(struct.pack("<IIQQ", 0x46554747, 3, len(tensors), len(kvs)))
    for b in kvs:
        out += b
    off, blobs = 0, []
    for name, ne in tensors:
        out += pstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", 0, off)
        cnt = 1
        for n in ne:
            cnt *= n
        norm = name.endswith("norm.weight")
        blob = b"".join(struct.pack("<f", (1.0 if norm else 0.0) + rng.uniform(-0.5, 0.5))
                        for _ in range(cnt))
        blobs.append(blob)
        off = (off + len(blob) + 31) // 32 * 32
    out += b"\0" * (-len(out) % 32)
    for blob in blobs:
        out += blob + b"\0" * (-len(blob) % 32)
    return bytes(out)


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def model_seeds():
    rng = random.Random(7)
    tok = golden_kvs(os.path.join(GOLDEN, "tiny-a-f32.gguf"), ("tokenizer.",))
    plain = tiny_model(rng)
    write("model_load", "tiny-plain.gguf", plain)
    write("model_load", "tiny-untied.gguf", tiny_model(rng, tied=False))
    write("model_load", "tiny-tokenizer.gguf", tiny_model(rng, n_vocab=1024, tokenizer_kvs=tok))
    # truncations of the small image: header, metadata, tensor table, data
    for cut in (3, 8, 23, 24, 60, 200, 400, 700, 1000, 1500, 2000, len(plain) - 1):
        if cut < len(plain):
            write("model_load", "trunc-%05d.gguf" % cut, plain[:cut])
    # bit flips in the header region (counts, lengths, types, dims, offsets)
    head = plain.find(b"token_embd.weight") + 200
    for i in range(24):
        b = bytearray(plain)
        pos = rng.randrange(0, head)
        b[pos] ^= 1 << rng.randrange(8)
        write("model_load", "flip-%02d.gguf" % i, bytes(b))
    # absurd metadata: refused before anything of that size is allocated
    absurd = {
        "experts-2e31": {"expert_count": (T_U32, 1 << 31)},
        "blocks-1e9": {"block_count": (T_U32, 1000000000)},
        "ctx-2e40": {"context_length": (T_U64, 1 << 40)},
        "ff-2e24": {"feed_forward_length": (T_U32, 1 << 24)},
        "heads-65536": {"attention.head_count": (T_U32, 65536)},
        "used-gt-experts": {"expert_used_count": (T_U32, 3)},
        "l-cache-0": {"shortconv.l_cache": (T_U32, 0)},
    }
    for name, ov in absurd.items():
        write("model_load", "absurd-%s.gguf" % name, tiny_model(rng, overrides=ov))
    # the first KB of real files (header and metadata only)
    for stem in ("tiny-a-f32", "tiny-q-q4_0", "tiny-q-q4_k_m"):
        with open(os.path.join(GOLDEN, stem + ".gguf"), "rb") as f:
            write("model_load", "golden-head-%s.gguf" % stem, f.read(2048))


def text_seeds():
    with open(os.path.join(GOLDEN, "tokenizer-a.jsonl")) as f:
        for i, line in enumerate(f):
            write("tokenizer", "golden-%02d.txt" % i, json.loads(line)["text"])
    with open(os.path.join(GOLDEN, "prompt-a.txt"), "rb") as f:
        write("tokenizer", "prompt-a.txt", f.read())
    extra = [b"", b"\xff\xfe\x80", b"\xe2\x82", b"\xf0\x9f\x98\x80 \xf0\x9f",
             b"<|im_start|><|im_end|><|im_start", b"<|endoftext|>\x00<|tool_call_start|>",
             b"   \t\n\r\n  x", b"123456789012345 3.14 ''s 'LL", "\u00e9\u4e2d\u0301".encode()]
    for i, b in enumerate(extra):
        write("tokenizer", "extra-%02d.txt" % i, b)
    # chat: byte 0 = flags (bit 0 generation prompt, bits 1-3 tools, bit 4 role codes)
    with open(os.path.join(GOLDEN, "chat-a.jsonl")) as f:
        for i, line in enumerate(f):
            c = json.loads(line)
            tools = [json.dumps(t) for t in c.get("tools", [])][:7]
            fields = []
            for m in c["messages"]:
                fields += [m["role"], m["content"]]
            fields += tools
            ctl = (1 if c.get("add_generation_prompt") else 0) | (len(tools) << 1)
            write("chat", "golden-%02d.bin" % i,
                  bytes([ctl]) + b"\0".join(x.encode() for x in fields))
    write("chat", "codes.bin", b"\x13" + b"\0".join([b"0", b"sys", b"1", b"hi", b"3", b"{}",
                                                       b"2", b"ok", b"{\"name\": \"f\"}"]))
    write("chat", "empty.bin", b"\x01")
    # tool calls
    calls = [
        '<|tool_call_start|>[get_weather(city="Paris")]<|tool_call_end|>',
        'x<|tool_call_start|>[f(a=1, b=-2.5e3, c=True, d=None, e=[1, "x"], g={"k": 1})]'
        '<|tool_call_end|>y<|tool_call_start|>[h()]<|tool_call_end|>',
        '<|tool_call_start|>[a.b(s=\'q\\\'s\\n\\u00e9\'), c(x="\\u20ac")]<|tool_call_end|>',
        '<|tool_call_start|>[{"name": "f", "arguments": {"a": [1, 2]}}]<|tool_call_end|>',
        '<|tool_call_start|>{"name": "f", "arguments": {}}<|tool_call_end|>',
        '<|tool_call_start|>[f(a=1,]<|tool_call_end|>',
        '<|tool_call_start|>[f(a=1)]',
        'no calls here',
        '<|tool_call_start|><|tool_call_end|>',
        '<|tool_call_start|>[f(x=(1, 2), y=-inf)]<|tool_call_end|>',
    ]
    for i, s in enumerate(calls):
        write("toolcall", "seed-%02d.txt" % i, s)


if __name__ == "__main__":
    model_seeds()
    text_seeds()
