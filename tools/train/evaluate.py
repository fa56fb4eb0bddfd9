#!/usr/bin/python3
"""Evaluate a GGUF file with the PyTorch model: greedy exact match on the held-out sets and
perplexity of heldout/text.txt (llama.cpp method, see train.perplexity), optionally a
comparison with a .gld logits file.

    /usr/bin/python3 evaluate.py ../../models/lfm2moe-demo-f32.gguf [--gld ../../tests/golden/demo-ref.gld]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from export_gguf import load_gguf  # noqa: E402
from ref_numpy import read_gld  # noqa: E402
from train import eval_kind, perplexity  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--gld")
    ap.add_argument("--kinds", default="add,count,reverse,capital,capital_recall")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, tok = load_gguf(args.model)
    model.eval()
    if args.gld:
        n_prompt, n_gen, toks, ref = read_gld(args.gld)
        with torch.no_grad():
            got = model(torch.tensor([toks]))[0].double().numpy()
        print("gld: %d rows, max|d| %.3g, argmax agree %d/%d" % (
            len(toks), np.abs(got - ref).max(), int((got.argmax(1) == ref.argmax(1)).sum()), len(toks)))
    for k in args.kinds.split(","):
        with open(os.path.join(HERE, "heldout", k + ".jsonl")) as f:
            items = [json.loads(l) for l in f]
        acc, _ = eval_kind(model, tok, items, 48)
        print("%-15s %4d exact %.4f" % (k, len(items), acc))
    with open(os.path.join(HERE, "heldout", "text.txt")) as f:
        text = f.read()
    for n_ctx in (64, 128):
        ppl, nch, cnt, ntoks = perplexity(model, tok, text, n_ctx)
        print("perplexity n_ctx %d: %.4f (%d chunks, %d scored of %d tokens)" % (n_ctx, ppl, nch, cnt, ntoks))


if __name__ == "__main__":
    main()
