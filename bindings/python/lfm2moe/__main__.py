"""python3 -m lfm2moe: generate text or chat with a model from the command line.

    python3 -m lfm2moe generate -m MODEL.gguf -p "What is 17 plus 25?" --chat
    python3 -m lfm2moe chat -m MODEL.gguf
    python3 -m lfm2moe version

Without -m, the model is $LFM2MOE_MODEL.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, List, Optional, Sequence

from . import Model, Session, __version__, library_path, library_version


def _model_path(arg: Optional[str]) -> str:
    path = arg or os.environ.get("LFM2MOE_MODEL")
    if not path:
        sys.exit("lfm2moe: no model: pass -m MODEL.gguf or set LFM2MOE_MODEL")
    return path


def _sampling(args: argparse.Namespace) -> Dict[str, object]:
    return {"max_tokens": args.n, "temperature": args.temp, "seed": args.seed,
            "reasoning_budget": args.reasoning_budget}


def _stream(session: Session, prompt, args: argparse.Namespace) -> str:
    gen = session.generate(prompt, **_sampling(args))
    parts: List[str] = []
    for part, piece in gen.parts():  # reasoning models: the thinking apart
        if part == "answer":
            parts.append(piece)
            print(piece, end="", flush=True)
        elif args.show_thinking:
            print(piece, end="", flush=True, file=sys.stderr)
    print()
    r = gen.result
    if r is not None and r.generate_seconds > 0:
        print("[%s, %d tokens, %.1f tok/s]" % (r.stop_reason, r.n_generated,
                                              r.n_generated / r.generate_seconds),
              file=sys.stderr)
    return "".join(parts)


def cmd_generate(args: argparse.Namespace) -> int:
    """Stream one completion of -p (a chat turn with --chat)."""
    with Model(_model_path(args.model)) as model, \
            Session(model, n_ctx=args.ctx, threads=args.threads) as session:
        prompt = args.prompt
        if args.chat:
            prompt = model.apply_chat_template([{"role": "user", "content": prompt}])
        _stream(session, prompt, args)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """Multi-turn chat on stdin: one line per turn, an empty line or EOF ends."""
    with Model(_model_path(args.model)) as model, \
            Session(model, n_ctx=args.ctx, threads=args.threads) as session:
        history: List[Dict[str, str]] = []
        while True:
            if sys.stdin.isatty():
                print("> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line.strip():
                return 0
            history.append({"role": "user", "content": line.rstrip("\n")})
            # Render the whole conversation; the session evaluates it afresh.
            session.reset()
            reply = _stream(session, model.apply_chat_template(history), args)
            history.append({"role": "assistant", "content": reply})


def cmd_version(args: argparse.Namespace) -> int:
    """Package and library versions, and where the library was loaded from."""
    print("lfm2moe %s (liblfm2moe %s at %s)" % (__version__, library_version(), library_path()))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of `python3 -m lfm2moe`."""
    ap = argparse.ArgumentParser(prog="python3 -m lfm2moe", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for name, fn in (("generate", cmd_generate), ("chat", cmd_chat)):
        p = sub.add_parser(name, help=fn.__doc__)
        p.set_defaults(fn=fn)
        p.add_argument("-m", "--model", help="GGUF file (default: $LFM2MOE_MODEL)")
        p.add_argument("-n", type=int, default=256, help="max tokens per reply")
        p.add_argument("--temp", type=float, default=None, help="temperature (0: greedy)")
        p.add_argument("--seed", type=int, default=None)
        p.add_argument("-t", "--threads", type=int, default=0, help="0: the library's choice")
        p.add_argument("--ctx", type=int, default=4096)
        p.add_argument("--reasoning-budget", type=int, default=None,
                       help="reasoning models: at most N thinking tokens, then </think>")
        p.add_argument("--show-thinking", action="store_true",
                       help="print the reasoning (to stderr)")
        if name == "generate":
            p.add_argument("-p", "--prompt", required=True)
            p.add_argument("--chat", action="store_true", help="wrap -p in the chat template")
    sub.add_parser("version", help=cmd_version.__doc__).set_defaults(fn=cmd_version)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
