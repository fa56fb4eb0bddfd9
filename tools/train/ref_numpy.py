"""Independent float64 NumPy forward pass of an lfm2moe GGUF file (F32/F16 tensors).

Written from the GGUF layout alone (not from model.py), so that running it on an exported file
checks the export, and running it on tests/golden/tiny-a-f32.gguf checks it against llama.cpp:
    /usr/bin/python3 ref_numpy.py ../../tests/golden/tiny-a-f32.gguf ../../tests/golden/tiny-a-f32.gld
"""
import struct
import sys

import numpy as np

from gguf_io import read_gguf

GLD_MAGIC = 0x31444C47


def read_gld(path):
    b = open(path, "rb").read()
    magic, n_prompt, n_gen, n_vocab = struct.unpack_from("<4i", b, 0)
    assert magic == GLD_MAGIC
    n = n_prompt + n_gen
    toks = np.frombuffer(b, np.int32, n, 16)
    logits = np.frombuffer(b, np.float32, n * n_vocab, 16 + 4 * n).reshape(n, n_vocab)
    return n_prompt, n_gen, toks.tolist(), logits


def write_gld(path, n_prompt, tokens, logits):
    logits = np.asarray(logits, np.float32)
    assert logits.shape[0] == len(tokens)
    with open(path, "wb") as f:
        f.write(struct.pack("<4i", GLD_MAGIC, n_prompt, len(tokens) - n_prompt, logits.shape[1]))
        f.write(np.asarray(tokens, np.int32).tobytes())
        f.write(logits.tobytes())


class RefModel:
    def __init__(self, path):
        md, t, _ = read_gguf(path)
        self.md = md
        self.t = {k: np.asarray(v, np.float64) for k, v in t.items()}
        a = md["general.architecture"]
        g = lambda k: md[a + "." + k]
        self.n_blocks = g("block_count")
        self.n_head = g("attention.head_count")
        self.kv = g("attention.head_count_kv")
        self.eps = g("attention.layer_norm_rms_epsilon")
        self.base = g("rope.freq_base")
        self.n_used = g("expert_used_count")
        self.n_dense = g("leading_dense_block_count")
        self.L = g("shortconv.l_cache")
        assert g("expert_gating_func") == 2

    def rms(self, x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.eps) * w

    def forward(self, ids):
        """ids [T] -> logits [T, vocab] (whole sequence, causal)."""
        t = self.t
        x = t["token_embd.weight"][ids]  # [T, H]
        T, H = x.shape
        for i in range(self.n_blocks):
            p = "blk.%d." % i
            y = self.rms(x, t[p + "attn_norm.weight"])
            if self.kv[i] > 0:
                y = self.attention(y, p, self.kv[i])
            else:
                bcx = y @ t[p + "shortconv.in_proj.weight"].T  # [T, 3H]
                b, c, xx = bcx[:, :H], bcx[:, H:2 * H], bcx[:, 2 * H:]
                u = b * xx
                w = t[p + "shortconv.conv.weight"]  # [H, L]
                pad = np.concatenate([np.zeros((self.L - 1, H)), u], 0)
                conv = sum(w[:, k] * pad[k:k + T] for k in range(self.L))
                y = (c * conv) @ t[p + "shortconv.out_proj.weight"].T
            x = x + y
            y = self.rms(x, t[p + "ffn_norm.weight"])
            if i < self.n_dense:
                g_ = y @ t[p + "ffn_gate.weight"].T
                f = (g_ / (1 + np.exp(-g_)) * (y @ t[p + "ffn_up.weight"].T)) @ t[p + "ffn_down.weight"].T
            else:
                f = self.moe(y, p)
            x = x + f
        x = self.rms(x, t["token_embd_norm.weight"])
        return x @ t["token_embd.weight"].T

    def attention(self, y, p, n_kv):
        t = self.t
        T = y.shape[0]
        q = y @ t[p + "attn_q.weight"].T
        k = y @ t[p + "attn_k.weight"].T
        v = y @ t[p + "attn_v.weight"].T
        d = q.shape[1] // self.n_head
        q = self.rms(q.reshape(T, self.n_head, d), t[p + "attn_q_norm.weight"])
        k = self.rms(k.reshape(T, n_kv, d), t[p + "attn_k_norm.weight"])
        v = v.reshape(T, n_kv, d)
        half = d // 2
        theta = np.arange(T)[:, None] * self.base ** (-2.0 * np.arange(half) / d)  # [T, d/2]
        cos, sin = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]

        def rope(z):  # NEOX: i pairs with i + d/2
            z1, z2 = z[..., :half], z[..., half:]
            return np.concatenate([z1 * cos - z2 * sin, z2 * cos + z1 * sin], -1)

        q, k = rope(q), rope(k)
        out = np.zeros((T, self.n_head, d))
        grp = self.n_head // n_kv
        mask = np.triu(np.ones((T, T), bool), 1)
        for h in range(self.n_head):
            s = q[:, h] @ k[:, h // grp].T / np.sqrt(d)
            s[mask] = -np.inf
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            out[:, h] = s @ v[:, h // grp]
        return out.reshape(T, -1) @ t[p + "attn_output.weight"].T

    def moe(self, y, p):
        t = self.t
        s = 1 / (1 + np.exp(-(y @ t[p + "ffn_gate_inp.weight"].T)))  # [T, E]
        sel = s + t[p + "exp_probs_b.bias"]
        out = np.zeros_like(y)
        ge, ue, de = t[p + "ffn_gate_exps.weight"], t[p + "ffn_up_exps.weight"], t[p + "ffn_down_exps.weight"]
        for r in range(y.shape[0]):
            top = np.argsort(-sel[r], kind="stable")[:self.n_used]
            w = s[r, top] / s[r, top].sum()
            for j, e in enumerate(top):
                g_ = ge[e] @ y[r]
                out[r] += w[j] * (de[e] @ (g_ / (1 + np.exp(-g_)) * (ue[e] @ y[r])))
        return out


def main():
    model, gld = sys.argv[1], sys.argv[2]
    m = RefModel(model)
    n_prompt, n_gen, toks, ref = read_gld(gld)
    got = m.forward(np.array(toks))
    d = np.abs(got - ref).max(1)
    print("rows %d  max|d| %.3g  argmax agree %d/%d" % (len(toks), d.max(),
          int((got.argmax(1) == ref.argmax(1)).sum()), len(toks)))


if __name__ == "__main__":
    main()
