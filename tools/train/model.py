"""PyTorch LFM2-MoE, written to match llama.cpp's `lfm2moe` graph (and HF Lfm2Moe).

Every block: h = x + op(rmsnorm(x)); out = h + ffn(rmsnorm(h)), op = short conv or GQA attention,
ffn = dense SwiGLU for the first `n_dense` blocks, sigmoid-routed top-k MoE after.
Parameter shapes are the torch shapes whose row-major bytes are the GGUF tensors (see
export_gguf.py for the name mapping).
"""
import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab: int = 1024
    hidden: int = 128
    n_blocks: int = 8
    attn_blocks: tuple = (2, 5)
    n_head: int = 4
    n_head_kv: int = 2
    ff: int = 384            # dense SwiGLU width
    n_dense: int = 2         # leading dense blocks
    n_expert: int = 8
    n_expert_used: int = 2
    expert_ff: int = 96
    l_cache: int = 3         # short conv kernel length
    eps: float = 1e-5
    rope_base: float = 1e6
    ctx: int = 256

    @property
    def head_dim(self):
        return self.hidden // self.n_head


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_neox(x, base):
    """x [B, heads, T, d]; dimension i pairs with i + d/2, angle pos * base^(-2i/d)."""
    T, d = x.shape[-2], x.shape[-1]
    half = d // 2
    inv = base ** (-torch.arange(half, dtype=torch.float64) * 2.0 / d)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class ShortConv(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.in_proj = nn.Linear(c.hidden, 3 * c.hidden, bias=False)
        self.out_proj = nn.Linear(c.hidden, c.hidden, bias=False)
        # [hidden, L]: GGUF ne {L, hidden}; k = L-1 multiplies the current token
        self.conv = nn.Parameter(torch.empty(c.hidden, c.l_cache).uniform_(-1, 1) / math.sqrt(c.l_cache))
        self.L = c.l_cache

    def forward(self, x):  # x [B, T, H]
        B, C, xx = self.in_proj(x).chunk(3, dim=-1)
        u = (B * xx).transpose(1, 2)  # [B, H, T]
        y = F.conv1d(u, self.conv.unsqueeze(1), padding=self.L - 1, groups=u.shape[1])[..., :u.shape[2]]
        return self.out_proj(C * y.transpose(1, 2))


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d = c.head_dim
        self.q = nn.Linear(c.hidden, c.n_head * d, bias=False)
        self.k = nn.Linear(c.hidden, c.n_head_kv * d, bias=False)
        self.v = nn.Linear(c.hidden, c.n_head_kv * d, bias=False)
        self.o = nn.Linear(c.n_head * d, c.hidden, bias=False)
        self.q_norm = RMSNorm(d, c.eps)
        self.k_norm = RMSNorm(d, c.eps)

    def forward(self, x):
        c = self.c
        Bn, T, _ = x.shape
        d = c.head_dim
        q = self.q_norm(self.q(x).view(Bn, T, c.n_head, d)).transpose(1, 2)
        k = self.k_norm(self.k(x).view(Bn, T, c.n_head_kv, d)).transpose(1, 2)
        v = self.v(x).view(Bn, T, c.n_head_kv, d).transpose(1, 2)
        q, k = rope_neox(q, c.rope_base), rope_neox(k, c.rope_base)
        g = c.n_head // c.n_head_kv  # query head h reads kv head h // g
        k = k.repeat_interleave(g, dim=1)
        v = v.repeat_interleave(g, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(d)
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        s = s.masked_fill(mask, float("-inf"))
        o = s.softmax(-1) @ v
        return self.o(o.transpose(1, 2).reshape(Bn, T, c.n_head * d))


class DenseFFN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate = nn.Linear(c.hidden, c.ff, bias=False)
        self.up = nn.Linear(c.hidden, c.ff, bias=False)
        self.down = nn.Linear(c.ff, c.hidden, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class MoE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        E, Fd, H = c.n_expert, c.expert_ff, c.hidden
        self.router = nn.Linear(H, E, bias=False)
        self.gate_exps = nn.Parameter(torch.randn(E, Fd, H) / math.sqrt(H))  # ne {H, F, E}
        self.up_exps = nn.Parameter(torch.randn(E, Fd, H) / math.sqrt(H))
        self.down_exps = nn.Parameter(torch.randn(E, H, Fd) / math.sqrt(Fd))  # ne {F, H, E}
        # exp_probs_b: routing-only bias, moved by aux-loss-free balancing (not by gradients)
        self.register_buffer("exp_bias", torch.zeros(E))
        self.last_load = None

    def forward(self, x):  # x [N, H]
        c = self.c
        s = torch.sigmoid(self.router(x))  # [N, E]
        idx = torch.topk(s + self.exp_bias, c.n_expert_used, dim=-1).indices  # [N, k]
        w = s.gather(1, idx)
        w = w / w.sum(-1, keepdim=True)
        with torch.no_grad():
            self.last_load = torch.bincount(idx.reshape(-1), minlength=c.n_expert).to(torch.float64)
        out = torch.zeros_like(x)
        for e in range(c.n_expert):
            tok, slot = torch.nonzero(idx == e, as_tuple=True)
            if tok.numel() == 0:
                continue
            xe = x[tok]
            ye = (F.silu(xe @ self.gate_exps[e].t()) * (xe @ self.up_exps[e].t())) @ self.down_exps[e].t()
            out = out.index_add(0, tok, ye * w[tok, slot].unsqueeze(1))
        return out


class Block(nn.Module):
    def __init__(self, c, i):
        super().__init__()
        self.is_attn = i in c.attn_blocks
        self.is_moe = i >= c.n_dense
        self.attn_norm = RMSNorm(c.hidden, c.eps)  # operator norm, attention or conv
        self.ffn_norm = RMSNorm(c.hidden, c.eps)
        self.op = Attention(c) if self.is_attn else ShortConv(c)
        self.ffn = MoE(c) if self.is_moe else DenseFFN(c)

    def forward(self, x, valid=None):
        h = x + self.op(self.attn_norm(x))
        y = self.ffn_norm(h)
        if valid is None:
            f = self.ffn(y.reshape(-1, y.shape[-1])).view_as(y)
        else:  # route only real tokens (padding would skew the expert loads)
            flat = y.reshape(-1, y.shape[-1])
            f = torch.zeros_like(flat).index_copy(0, valid, self.ffn(flat[valid])).view_as(y)
        return h + f


class LFM2MoE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c.vocab, c.hidden)
        self.blocks = nn.ModuleList([Block(c, i) for i in range(c.n_blocks)])
        self.norm = RMSNorm(c.hidden, c.eps)  # GGUF token_embd_norm (the final norm)
        self._init()

    def _init(self):
        std = 0.02
        nn.init.normal_(self.embed.weight, std=std)
        for n, p in self.named_parameters():
            if p.dim() == 2 and "embed" not in n and "conv" not in n:
                nn.init.normal_(p, std=1.0 / math.sqrt(p.shape[1]))
            if n.endswith(("out_proj.weight", "o.weight", "down.weight")):
                nn.init.normal_(p, std=0.5 / math.sqrt(p.shape[1] * self.c.n_blocks))
            if n.endswith("down_exps"):
                nn.init.normal_(p, std=0.5 / math.sqrt(p.shape[2] * self.c.n_blocks))

    def hidden_states(self, ids, valid=None):
        x = self.embed(ids)
        for b in self.blocks:
            x = b(x, valid)
        return self.norm(x)

    def logits(self, h):
        return h @ self.embed.weight.t()  # tied output head

    def forward(self, ids):
        return self.logits(self.hidden_states(ids))

    def moe_layers(self):
        return [b.ffn for b in self.blocks if b.is_moe]
