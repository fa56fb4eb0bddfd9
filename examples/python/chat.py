#!/usr/bin/env python3
"""Interactive chat with an LFM2-MoE model, streaming the replies.

    LFM2MOE_LIBRARY=build/lib/liblfm2moe.so PYTHONPATH=bindings/python \\
        python3 examples/python/chat.py MODEL.gguf [--max-tokens N] [--temperature T]

One line per user turn; an empty line or end of input quits.
"""

import argparse
import sys

import lfm2moe


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--system", default="You are a helpful assistant.")
    args = ap.parse_args()

    with lfm2moe.Model(args.model) as model, \
            lfm2moe.Session(model, n_ctx=args.ctx, threads=args.threads) as session:
        info = model.info
        print("%s: %d blocks, %d experts (top %d), %d parameters" % (
            info.architecture, info.n_block, info.n_expert, info.n_expert_used, info.n_params),
            file=sys.stderr)
        history = [{"role": "system", "content": args.system}] if args.system else []
        while True:
            try:
                line = input("> ")
            except EOFError:
                break
            if not line:
                break
            history.append({"role": "user", "content": line})
            # The whole conversation is re-rendered and evaluated each turn.
            prompt = model.apply_chat_template(history)
            session.reset()
            gen = session.generate(prompt, max_tokens=args.max_tokens,
                                   temperature=args.temperature, seed=args.seed)
            reply = []
            for piece in gen:
                reply.append(piece)
                print(piece, end="", flush=True)
            print()
            r = gen.result
            print("[%d tokens, %.1f tok/s, %s]" % (
                r.n_generated, r.n_generated / max(r.generate_seconds, 1e-9), r.stop_reason),
                file=sys.stderr)
            history.append({"role": "assistant", "content": "".join(reply)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
