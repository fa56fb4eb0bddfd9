"""Write a trained LFM2MoE (model.py) as a GGUF file in the layout of the published LFM2-8B-A1B
files: same metadata keys and types, same tensor names, tied output head.

A torch tensor's row-major bytes are written as-is, so a Linear weight [out, in] gets ggml
ne {in, out}; expert stacks [E, F, H] get ne {H, F, E}.
With f16=True the 2-D/3-D matmul weights (and token_embd) are F16; norms, router, conv
kernels and exp_probs_b stay F32, as in the published files.
"""
import os

import numpy as np

import gguf_io as G

HERE = os.path.dirname(os.path.abspath(__file__))


def _np(t):
    return t.detach().to("cpu").double().numpy().astype(np.float32)


def tensors_of(model, f16=False):
    c = model.c
    mat = G.GGML_TYPE_F16 if f16 else G.GGML_TYPE_F32
    f32 = G.GGML_TYPE_F32
    out = [("token_embd.weight", mat, _np(model.embed.weight)),
           ("token_embd_norm.weight", f32, _np(model.norm.weight))]
    for i, b in enumerate(model.blocks):
        p = "blk.%d." % i
        out += [(p + "attn_norm.weight", f32, _np(b.attn_norm.weight)),
                (p + "ffn_norm.weight", f32, _np(b.ffn_norm.weight))]
        if b.is_attn:
            a = b.op
            out += [(p + "attn_q.weight", mat, _np(a.q.weight)),
                    (p + "attn_k.weight", mat, _np(a.k.weight)),
                    (p + "attn_v.weight", mat, _np(a.v.weight)),
                    (p + "attn_output.weight", mat, _np(a.o.weight)),
                    (p + "attn_q_norm.weight", f32, _np(a.q_norm.weight)),
                    (p + "attn_k_norm.weight", f32, _np(a.k_norm.weight))]
        else:
            s = b.op
            out += [(p + "shortconv.conv.weight", f32, _np(s.conv)),
                    (p + "shortconv.in_proj.weight", mat, _np(s.in_proj.weight)),
                    (p + "shortconv.out_proj.weight", mat, _np(s.out_proj.weight))]
        if b.is_moe:
            m = b.ffn
            out += [(p + "ffn_gate_inp.weight", f32, _np(m.router.weight)),
                    (p + "ffn_gate_exps.weight", mat, _np(m.gate_exps)),
                    (p + "ffn_up_exps.weight", mat, _np(m.up_exps)),
                    (p + "ffn_down_exps.weight", mat, _np(m.down_exps)),
                    (p + "exp_probs_b.bias", f32, _np(m.exp_bias))]
        else:
            f = b.ffn
            out += [(p + "ffn_gate.weight", mat, _np(f.gate.weight)),
                    (p + "ffn_up.weight", mat, _np(f.up.weight)),
                    (p + "ffn_down.weight", mat, _np(f.down.weight))]
    return out


def metadata_of(c, tok, name, f16=False):
    A = "lfm2moe."
    with open(os.path.join(HERE, "chat_template.jinja"), encoding="utf-8") as f:
        template = f.read()
    kv = [0 if i not in c.attn_blocks else c.n_head_kv for i in range(c.n_blocks)]
    return [
        ("general.architecture", "lfm2moe"),
        ("general.name", name),
        (A + "context_length", c.ctx),
        (A + "embedding_length", c.hidden),
        (A + "feed_forward_length", c.ff),
        (A + "block_count", c.n_blocks),
        (A + "attention.head_count", c.n_head),
        (A + "attention.head_count_kv", ("array", G.T_INT32, kv)),
        (A + "rope.freq_base", float(c.rope_base)),
        (A + "attention.layer_norm_rms_epsilon", float(c.eps)),
        (A + "expert_count", c.n_expert),
        (A + "expert_used_count", c.n_expert_used),
        (A + "expert_feed_forward_length", c.expert_ff),
        (A + "leading_dense_block_count", c.n_dense),
        (A + "expert_gating_func", 2),  # sigmoid
        (A + "vocab_size", c.vocab),
        (A + "shortconv.l_cache", c.l_cache),
        ("general.file_type", 1 if f16 else 0),  # LLAMA_FTYPE_MOSTLY_F16 / ALL_F32
        ("tokenizer.ggml.model", "gpt2"),
        ("tokenizer.ggml.pre", "lfm2"),
        ("tokenizer.ggml.tokens", ("array", G.T_STRING, tok.tokens)),
        ("tokenizer.ggml.token_type", ("array", G.T_INT32, tok.types)),
        ("tokenizer.ggml.merges", ("array", G.T_STRING, ["%s %s" % m for m in tok.merges])),
        ("tokenizer.ggml.bos_token_id", 1),
        ("tokenizer.ggml.eos_token_id", 7),
        ("tokenizer.ggml.padding_token_id", 0),
        ("tokenizer.ggml.add_bos_token", True),
        ("tokenizer.chat_template", template),
    ]


def export(model, tok, path, name="lfm2moe-demo", f16=False):
    assert len(tok.tokens) == model.c.vocab
    G.write_gguf(path, metadata_of(model.c, tok, name, f16), tensors_of(model, f16))
    return os.path.getsize(path)


def load_gguf(path):
    """GGUF (F32/F16) -> (LFM2MoE with those weights, Tokenizer). Inverse of export()."""
    import torch

    from lfm_tok import Tokenizer
    from model import Config, LFM2MoE

    md, t, _ = G.read_gguf(path)
    A = md["general.architecture"] + "."
    kv = md[A + "attention.head_count_kv"]
    attn = tuple(i for i, n in enumerate(kv) if n > 0)
    c = Config(vocab=md[A + "vocab_size"], hidden=md[A + "embedding_length"],
               n_blocks=md[A + "block_count"], attn_blocks=attn, n_head=md[A + "attention.head_count"],
               n_head_kv=kv[attn[0]], ff=md[A + "feed_forward_length"],
               n_dense=md[A + "leading_dense_block_count"], n_expert=md[A + "expert_count"],
               n_expert_used=md[A + "expert_used_count"], expert_ff=md[A + "expert_feed_forward_length"],
               l_cache=md[A + "shortconv.l_cache"], eps=md[A + "attention.layer_norm_rms_epsilon"],
               rope_base=md[A + "rope.freq_base"], ctx=md[A + "context_length"])
    model = LFM2MoE(c)
    params = dict(model.named_parameters())
    params.update(dict(model.named_buffers()))
    names = {
        "token_embd.weight": "embed.weight", "token_embd_norm.weight": "norm.weight"}
    for i, b in enumerate(model.blocks):
        p, q = "blk.%d." % i, "blocks.%d." % i
        names.update({p + "attn_norm.weight": q + "attn_norm.weight", p + "ffn_norm.weight": q + "ffn_norm.weight"})
        if b.is_attn:
            for g, n in [("attn_q", "q"), ("attn_k", "k"), ("attn_v", "v"), ("attn_output", "o"),
                         ("attn_q_norm", "q_norm"), ("attn_k_norm", "k_norm")]:
                names[p + g + ".weight"] = q + "op." + n + ".weight"
        else:
            names.update({p + "shortconv.conv.weight": q + "op.conv",
                          p + "shortconv.in_proj.weight": q + "op.in_proj.weight",
                          p + "shortconv.out_proj.weight": q + "op.out_proj.weight"})
        if b.is_moe:
            names.update({p + "ffn_gate_inp.weight": q + "ffn.router.weight",
                          p + "ffn_gate_exps.weight": q + "ffn.gate_exps",
                          p + "ffn_up_exps.weight": q + "ffn.up_exps",
                          p + "ffn_down_exps.weight": q + "ffn.down_exps",
                          p + "exp_probs_b.bias": q + "ffn.exp_bias"})
        else:
            for g, n in [("ffn_gate", "gate"), ("ffn_up", "up"), ("ffn_down", "down")]:
                names[p + g + ".weight"] = q + "ffn." + n + ".weight"
    assert set(names) == set(t), set(names) ^ set(t)
    with torch.no_grad():
        for g, n in names.items():
            dst = params[n]
            src = torch.from_numpy(np.array(t[g], dtype=np.float32))
            assert tuple(dst.shape) == tuple(src.shape), (g, dst.shape, src.shape)
            dst.copy_(src)
    merges = [tuple(m.split(" ")) for m in md["tokenizer.ggml.merges"]]
    tok = Tokenizer(md["tokenizer.ggml.tokens"], md["tokenizer.ggml.token_type"], merges,
                    md["tokenizer.ggml.bos_token_id"], md["tokenizer.ggml.eos_token_id"],
                    md.get("tokenizer.ggml.add_bos_token", True))
    return model, tok
