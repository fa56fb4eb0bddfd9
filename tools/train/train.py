#!/usr/bin/python3
"""Train the tiny LFM2-MoE demo model that ships with liblfm2moe, export it as GGUF, evaluate it.

    cd tools/train && /usr/bin/python3 train.py            # full run (see README.md for timings)
    /usr/bin/python3 train.py --epochs 1 --max-steps 30    # smoke test

Steps: generate data (data.py) -> train a byte-level BPE with llama.cpp's lfm2 pre-tokenizer
(lfm_tok.py) -> train model.py with loss on assistant tokens (all tokens of plain-text docs)
-> export models/lfm2moe-demo-f32.gguf -> greedy-decode the held-out sets, perplexity of
heldout/text.txt -> golden logits tests/golden/demo-ref.gld from the exported file (float64
NumPy reference, cross-checked with PyTorch).
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import data as D  # noqa: E402
import export_gguf  # noqa: E402
import lfm_tok  # noqa: E402
from model import Config, LFM2MoE  # noqa: E402
from ref_numpy import RefModel, write_gld  # noqa: E402

EOS = 7
BOS = 1


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ---------------------------------------------------------------- tokenization of examples

def encode_chat(tok, system, turns, double_bos):
    """-> (ids, target mask). Targets: each assistant answer and its closing <|im_end|>."""
    segs = []  # (text, is_target)
    segs.append(("<|startoftext|>", False))
    if system:
        segs.append(("<|im_start|>system\n" + system + "<|im_end|>\n", False))
    for q, a in turns:
        segs.append(("<|im_start|>user\n" + q + "<|im_end|>\n<|im_start|>assistant\n", False))
        segs.append((a + "<|im_end|>", True))
        segs.append(("\n", False))
    full = "".join(s for s, _ in segs)
    ids = tok.encode(full, add_special=False)
    mask = [False] * len(ids)
    pre = ""
    for s, tgt in segs:
        lo = len(tok.encode(pre, add_special=False))
        pre += s
        pid = tok.encode(pre, add_special=False)
        assert ids[:len(pid)] == pid, "segment boundary splits a pre-token: %r" % pre
        if tgt:
            for j in range(lo, len(pid)):
                mask[j] = True
    if double_bos:  # what a client that adds BOS to an already rendered template produces
        ids, mask = [BOS] + ids, [False] + mask
    return ids, mask


def encode_doc(tok, text, ctx):
    ids = tok.encode(text, add_special=True)[:ctx]
    return ids, [False] + [True] * (len(ids) - 1)


def make_batches(examples, max_tokens, rng):
    """Length-bucketed batches of at most max_tokens padded tokens."""
    idx = list(range(len(examples)))
    rng.shuffle(idx)
    batches = []
    group = 4096
    for g in range(0, len(idx), group):
        chunk = sorted(idx[g:g + group], key=lambda i: len(examples[i][0]))
        cur = []
        for i in chunk:
            L = len(examples[i][0])
            if cur and (len(cur) + 1) * max(L, len(examples[cur[0]][0])) > max_tokens:
                batches.append(cur)
                cur = []
            cur.append(i)
        if cur:
            batches.append(cur)
    rng.shuffle(batches)
    return batches


def collate(examples, b):
    T = max(len(examples[i][0]) for i in b)
    ids = torch.zeros(len(b), T, dtype=torch.long)
    tgt = torch.zeros(len(b), T, dtype=torch.bool)
    real = torch.zeros(len(b), T, dtype=torch.bool)
    for r, i in enumerate(b):
        x, m = examples[i]
        ids[r, :len(x)] = torch.tensor(x)
        tgt[r, :len(x)] = torch.tensor(m)
        real[r, :len(x)] = True
    return ids, tgt, real


# ---------------------------------------------------------------- evaluation

@torch.no_grad()
def greedy(model, prompts, max_new=40):
    """prompts: list of token lists -> list of generated token lists (up to and excluding EOS).
    Prompts of equal length are batched; each step recomputes the whole sequence."""
    model.eval()
    out = [None] * len(prompts)
    by_len = {}
    for i, p in enumerate(prompts):
        by_len.setdefault(len(p), []).append(i)
    for L, members in by_len.items():
        for s in range(0, len(members), 128):
            mem = members[s:s + 128]
            ids = torch.tensor([prompts[i] for i in mem])
            done = torch.zeros(len(mem), dtype=torch.bool)
            gen = [[] for _ in mem]
            for _ in range(max_new):
                nxt = model(ids)[:, -1].argmax(-1)
                for r in range(len(mem)):
                    if not done[r]:
                        if nxt[r].item() == EOS:
                            done[r] = True
                        else:
                            gen[r].append(nxt[r].item())
                if done.all():
                    break
                ids = torch.cat([ids, nxt[:, None]], 1)
            for r, i in enumerate(mem):
                out[i] = gen[r]
    return out


def eval_kind(model, tok, items, max_new=40):
    prompts = [tok.encode(D.prompt_text(it["prompt"]), add_special=False) for it in items]
    gens = greedy(model, prompts, max_new)
    outs = [tok.decode(g) for g in gens]
    ok = sum(o == it["answer"] for o, it in zip(outs, items))
    return ok / max(1, len(items)), outs


@torch.no_grad()
def perplexity(model, tok, text, n_ctx):
    """llama.cpp `perplexity` method: tokenize the whole text with BOS, cut into chunks of n_ctx
    tokens, replace each chunk's first token by BOS, score the second half: the logits at
    positions j = n_ctx/2 .. n_ctx-2 predict token j+1. PPL = exp(mean NLL) over all chunks."""
    model.eval()
    toks = tok.encode(text, add_special=True)
    n_chunk = len(toks) // n_ctx
    nll, cnt = 0.0, 0
    for c in range(n_chunk):
        x = list(toks[c * n_ctx:(c + 1) * n_ctx])
        x[0] = BOS
        lp = torch.log_softmax(model(torch.tensor([x]))[0].double(), -1)
        first = n_ctx // 2
        for j in range(first, n_ctx - 1):
            nll -= lp[j, x[j + 1]].item()
            cnt += 1
    return math.exp(nll / cnt), n_chunk, cnt, len(toks)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--max-steps", type=int, default=0, help="stop early (smoke test)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch-tokens", type=int, default=3072)
    ap.add_argument("--n-merges", type=int, default=752)
    ap.add_argument("--eval-only", action="store_true", help="skip training: load OUT/ckpt.pt")
    ap.add_argument("--out", default=os.path.join(HERE, "out"), help="checkpoints (not committed)")
    ap.add_argument("--model", default=os.path.join(REPO, "models", "lfm2moe-demo-f32.gguf"))
    ap.add_argument("--golden", default=os.path.join(REPO, "tests", "golden", "demo-ref.gld"))
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    t_start = time.time()
    data = D.Data(args.seed)

    # ---- tokenizer: trained on epoch 0's conversations and documents
    chats0, docs0 = data.epoch(0)
    corpus = [D.chat_text([(r, c) for q, a in t for r, c in (("user", q), ("assistant", a))], s)
              for s, t, _ in chats0] + docs0
    no_digits = lambda a, b: not any(ch.isdigit() for ch in a + b)  # digits stay single tokens
    merges = lfm_tok.train_bpe(corpus, args.n_merges, allow_pair=no_digits)
    tokens, types = lfm_tok.build_vocab(merges)
    tok = lfm_tok.Tokenizer(tokens, types, merges)
    log("tokenizer: %d merges, vocab %d (%.1fs)" % (len(merges), len(tokens), time.time() - t_start))

    cfg = Config(vocab=len(tokens))
    model = LFM2MoE(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    log("model: %s, %d parameters" % (cfg, n_params))

    # ---- held-out sets
    held = data.heldout()
    hdir = os.path.join(HERE, "heldout")
    os.makedirs(hdir, exist_ok=True)
    for k, v in held.items():
        with open(os.path.join(hdir, k + ".jsonl"), "w") as f:
            for it in v:
                f.write(json.dumps(it) + "\n")
    text = data.heldout_text()
    with open(os.path.join(hdir, "text.txt"), "w") as f:
        f.write(text)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                             {"params": other, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    brng = random.Random(args.seed)
    # steps per epoch are about the same each epoch; estimate from epoch 0 for the schedule
    def examples_of(ep):
        chats, docs = (chats0, docs0) if ep == 0 else data.epoch(ep)
        ex = [encode_chat(tok, s, t, dbl) for s, t, dbl in chats]
        ex += [encode_doc(tok, d, cfg.ctx) for d in docs]
        return ex

    ex = examples_of(0)
    steps_per_epoch = len(make_batches(ex, args.batch_tokens, random.Random(0)))
    total = steps_per_epoch * args.epochs
    if args.max_steps:
        total = min(total, args.max_steps)
    warm = min(200, total // 10 + 1)
    log("%d examples/epoch, %d tokens, %d steps/epoch, %d steps" % (
        len(ex), sum(len(e[0]) for e in ex), steps_per_epoch, total))

    step, t_train = 0, time.time()
    hist = []
    if args.eval_only:
        ck = torch.load(os.path.join(args.out, "ckpt.pt"))
        assert ck["merges"] == merges
        model.load_state_dict(ck["state"])
        hist, step, args.epochs = ck.get("hist", []), ck.get("step", 0), 0
    for ep in range(args.epochs):
        if ep > 0:
            ex = examples_of(ep)
        model.train()
        ntok, lsum, lcnt, t_ep = 0, 0.0, 0, time.time()
        for b in make_batches(ex, args.batch_tokens, brng):
            if step >= total:
                break
            lr = args.lr * (step + 1) / warm if step < warm else \
                args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm))))
            for g in opt.param_groups:
                g["lr"] = lr
            ids, tgt, real = collate(ex, b)
            valid = real.reshape(-1).nonzero().squeeze(1)
            h = model.hidden_states(ids, valid)
            sel = tgt[:, 1:]  # position j predicts token j+1
            logits = model.logits(h[:, :-1][sel])
            loss = F.cross_entropy(logits, ids[:, 1:][sel])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            with torch.no_grad():  # aux-loss-free balancing of the routing bias
                for m in model.moe_layers():
                    load = m.last_load
                    m.exp_bias += 1e-3 * torch.sign(load.mean() - load).to(m.exp_bias.dtype)
            ntok += int(real.sum())
            lsum += loss.item() * int(sel.sum())
            lcnt += int(sel.sum())
            step += 1
            if step % 50 == 0:
                el = time.time() - t_train
                log("ep %d step %d/%d loss %.4f lr %.2e  %.0f tok/s  %.0fs" % (
                    ep, step, total, lsum / lcnt, lr, ntok / (time.time() - t_ep), el))
        el = time.time() - t_train
        quick = held["add"][::10]
        acc, _ = eval_kind(model, tok, quick, 16)
        hist.append({"epoch": ep, "loss": lsum / max(1, lcnt), "t": el, "add_acc_sample": acc})
        log("epoch %d done: train loss %.4f, held-out add sample acc %.3f, %.0fs" % (ep, lsum / max(1, lcnt), acc, el))
        torch.save({"cfg": cfg.__dict__, "state": model.state_dict(), "merges": merges, "hist": hist,
                    "step": step}, os.path.join(args.out, "ckpt.pt"))
        if step >= total:
            break
    t_train = time.time() - t_train if not args.eval_only else sum(h["t"] for h in hist[-1:])

    # ---- export
    os.makedirs(os.path.dirname(args.model), exist_ok=True)
    size = export_gguf.export(model, tok, args.model, name="lfm2moe-demo")
    log("wrote %s (%d bytes)" % (args.model, size))

    # ---- evaluation with the exported weights (what the C library will run)
    model, tok2 = export_gguf.load_gguf(args.model)
    assert tok2.tokens == tok.tokens and tok2.merges == tok.merges
    model.eval()
    res = {"config": {k: v for k, v in cfg.__dict__.items()}, "n_params": n_params,
           "vocab": len(tokens), "train_seconds": round(t_train), "steps": step, "history": hist,
           "model_bytes": size, "torch": torch.__version__, "threads": args.threads}
    accs = {}
    for k, items in held.items():
        acc, outs = eval_kind(model, tok, items, 48)
        accs[k] = {"n": len(items), "exact": round(acc, 4)}
        bad = [(it["prompt"], o) for it, o in zip(items, outs) if o != it["answer"]][:3]
        log("held-out %-15s %4d  exact %.4f  e.g. wrong: %s" % (k, len(items), acc, bad))
    res["heldout_exact"] = accs
    res["perplexity"] = {}
    for n_ctx in (64, 128):
        ppl, nch, cnt, ntoks = perplexity(model, tok, text, n_ctx)
        res["perplexity"]["n_ctx=%d" % n_ctx] = {"ppl": round(ppl, 4), "chunks": nch, "scored": cnt, "tokens": ntoks}
        log("perplexity text.txt n_ctx %d: %.4f (%d chunks, %d scored tokens of %d)" % (n_ctx, ppl, nch, cnt, ntoks))

    # ---- golden logits: a held-out addition, prompt batched + greedy tokens, float64 NumPy
    a, b = next((a, b) for a, b in data.add_held if a >= 10 and b >= 10)
    q = "What is %d plus %d?" % (a, b)
    prompt = tok.encode(D.prompt_text(q), add_special=False)
    ref = RefModel(args.model)
    toks = list(prompt)
    n_gen = 12
    for _ in range(n_gen):
        toks.append(int(ref.forward(np.array(toks))[-1].argmax()))
    ref_logits = ref.forward(np.array(toks))
    with torch.no_grad():
        tl = model(torch.tensor([toks]))[0].double().numpy()
    os.makedirs(os.path.dirname(args.golden), exist_ok=True)
    write_gld(args.golden, len(prompt), toks, ref_logits)
    res["golden"] = {"file": os.path.relpath(args.golden, REPO), "question": q, "n_prompt": len(prompt),
                     "n_gen": n_gen, "generated": tok.decode(toks[len(prompt):], keep_special=True),
                     "max_abs_diff_torch_f32_vs_numpy_f64": float(np.abs(tl - ref_logits).max()),
                     "logit_std": float(ref_logits.std())}
    log("golden %s: %r -> %r, torch f32 vs numpy f64 max|d| %.2e" % (
        args.golden, q, res["golden"]["generated"], res["golden"]["max_abs_diff_torch_f32_vs_numpy_f64"]))
    res["total_seconds"] = round(time.time() - t_start)
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    log("done in %ds" % res["total_seconds"])


if __name__ == "__main__":
    main()
