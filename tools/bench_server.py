#!/usr/bin/env python3
"""Load benchmark of an OpenAI-compatible server (lfm2moe serve, or any other).

For each concurrency level C of -c, C clients each send --rounds streamed
chat completions, one after another, all at the same time: greedy
(temperature 0), a fixed max_tokens, the end-of-turn tokens banned (so that
every answer is max_tokens long), each request with its own prompt (so that
no slot's prompt cache serves it).  Printed per level:

  agg tok/s     generated tokens of all requests / wall time of the level
  ttft p50/p90  time from sending a request to its first streamed token
  client tok/s  per request, generated tokens / its whole duration (p50)

The command line and the server are printed first, so a run can be repeated.
Standard library only.

  tools/bench_server.py -m MODEL -c 1,4,8          # starts build/server/lfm2moe-server
  tools/bench_server.py --url http://127.0.0.1:8080 -c 1,4,8   # a running server
"""
import argparse
import http.client
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILLER = ("The quick brown fox jumps over the lazy dog while the old farmer counts his sheep "
          "and the river runs past the mill toward the sea.").split()


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--url", help="a running server (else one is started)")
    p.add_argument("--api-key", default=os.environ.get("LFM2MOE_API_KEY"),
                   help="sent as Authorization: Bearer KEY (default $LFM2MOE_API_KEY)")
    p.add_argument("-c", "--concurrency", default="1,4,8", help="client counts (default 1,4,8)")
    p.add_argument("-n", "--max-tokens", type=int, default=128, help="tokens per answer (128)")
    p.add_argument("-w", "--prompt-words", type=int, default=64,
                   help="words of filler in each prompt (64)")
    p.add_argument("-r", "--rounds", type=int, default=2, help="requests per client per level (2)")
    p.add_argument("--warmup", type=int, default=1, help="requests before the first level (1)")
    p.add_argument("--timeout", type=float, default=600, help="seconds per request (600)")
    g = p.add_argument_group("starting a server (without --url)")
    g.add_argument("--server", default=os.path.join(ROOT, "build", "server", "lfm2moe-server"),
                   help="the server binary (default: build/server/lfm2moe-server)")
    g.add_argument("-m", "--model", default=os.environ.get("LFM2MOE_MODEL") or os.path.join(
        ROOT, "models", "lfm2moe-demo-f32.gguf"),
                   help="GGUF file (default: $LFM2MOE_MODEL, else the demo model)")
    g.add_argument("--parallel", type=int, help="slots (default: the largest -c)")
    g.add_argument("--ctx", type=int, help="context per slot (default: prompt + max_tokens + 64)")
    g.add_argument("-t", "--threads", type=int, help="threads (default: the server's)")
    g.add_argument("--server-arg", action="append", default=[],
                   help="one more argument for the server (repeatable)")
    a = p.parse_args()
    a.levels = [int(x) for x in a.concurrency.split(",") if x.strip()]
    if not a.levels or min(a.levels) < 1 or a.max_tokens < 1 or a.rounds < 1:
        p.error("-c needs counts >= 1; -n and -r must be >= 1")
    return a


class Target:
    def __init__(self, url, api_key):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.base = u.path.rstrip("/")
        if self.base.endswith("/v1"):
            self.base = self.base[:-3]
        self.headers = {"Content-Type": "application/json"}
        if api_key:
            self.headers["Authorization"] = "Bearer " + api_key

    def conn(self, timeout):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def call(self, method, path, body=None):
        c = self.conn(60)
        c.request(method, self.base + path, body=json.dumps(body) if body is not None else None,
                  headers=self.headers)
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status != 200:
            raise RuntimeError("%s %s: HTTP %d %s" % (method, path, r.status, data[:300]))
        return json.loads(data)


def start_server(a, ctx):
    if not os.path.exists(a.server):
        sys.exit("bench_server: no server binary at %s (build it, or give --url)" % a.server)
    cmd = [a.server, "-m", a.model, "--port", "0", "--parallel",
           str(a.parallel or max(a.levels)), "--ctx", str(a.ctx or ctx)]
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    if a.api_key:
        cmd += ["--api-key", a.api_key]
    cmd += a.server_arg
    log = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + 120
    while True:
        text = open(log.name, errors="replace").read()
        m = re.search(r" on http://([^:]+):(\d+) ", text)
        if m:
            return proc, log.name, cmd, "http://%s:%s" % (m.group(1), m.group(2))
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            sys.exit("bench_server: the server did not start:\n" + text[-3000:])
        time.sleep(0.05)


def prompt(words, tag):
    filler = " ".join(FILLER[i % len(FILLER)] for i in range(words))
    # the tag first: requests share no prefix beyond the chat template's
    return "%s. %s Now tell a long story about it." % (tag, filler)


def one_request(t, body, timeout):
    """-> dict(ttft, duration, tokens) of one streamed chat completion."""
    c = t.conn(timeout)
    t0 = time.perf_counter()
    c.request("POST", t.base + "/v1/chat/completions", body=json.dumps(body), headers=t.headers)
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError("HTTP %d: %s" % (r.status, r.read()[:300]))
    ttft, tokens = None, None
    while True:
        line = r.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        ev = json.loads(line[6:])
        if "error" in ev:
            raise RuntimeError("stream error: %s" % ev["error"])
        for ch in ev.get("choices", []):
            d = ch.get("delta", {})
            if ttft is None and (d.get("content") or d.get("reasoning_content") or
                                 d.get("tool_calls")):
                ttft = time.perf_counter() - t0
        if ev.get("usage"):
            tokens = ev["usage"]["completion_tokens"]
    duration = time.perf_counter() - t0
    c.close()
    if tokens is None:
        raise RuntimeError("the stream ended without a usage chunk")
    return {"ttft": ttft if ttft is not None else duration, "duration": duration,
            "tokens": tokens}


def run_level(t, a, level, bias, stamp):
    results, errors = [], []
    lock = threading.Lock()

    def client(k):
        for rnd in range(a.rounds):
            body = {"messages": [{"role": "user",
                                  "content": prompt(a.prompt_words, "Request %s-%d-%d-%d"
                                                    % (stamp, level, k, rnd))}],
                    "temperature": 0, "max_tokens": a.max_tokens, "stream": True,
                    "stream_options": {"include_usage": True}, "logit_bias": bias}
            try:
                res = one_request(t, body, a.timeout)
            except Exception as e:  # noqa: BLE001 - reported with the level
                with lock:
                    errors.append(repr(e))
                return
            with lock:
                results.append(res)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(level)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results, errors, time.perf_counter() - t0


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main():
    a = parse_args()
    print("command: " + " ".join(shlex.quote(x) for x in [sys.executable] + sys.argv))
    proc = None
    if a.url:
        url = a.url
    else:
        ctx = a.prompt_words * 2 + a.max_tokens + 128
        proc, log, cmd, url = start_server(a, ctx)
        print("server:  " + " ".join(shlex.quote(x) for x in cmd))
    try:
        t = Target(url, a.api_key)
        model = t.call("GET", "/v1/models")["data"][0]["id"]
        bias = {}
        for special in ("<|im_end|>", "<|endoftext|>"):  # every answer max_tokens long
            ids = t.call("POST", "/tokenize", {"content": special}).get("tokens", [])
            if len(ids) == 1:
                bias[str(ids[0])] = -100
        print("target:  %s, model %s" % (url, model))
        print("load:    %d-word prompts, max_tokens %d, greedy, end tokens banned %s, "
              "%d round(s) per client" % (a.prompt_words, a.max_tokens,
                                          sorted(int(x) for x in bias), a.rounds))
        stamp = "%x" % int(time.time())
        for w in range(a.warmup):
            one_request(t, {"messages": [{"role": "user", "content": prompt(8, "Warm-up %d" % w)}],
                            "temperature": 0, "max_tokens": 8, "stream": True,
                            "stream_options": {"include_usage": True}}, a.timeout)
        print("%5s %8s %9s %8s %10s %12s %12s %14s" % (
            "conc", "requests", "gen tok", "wall s", "agg tok/s", "ttft p50 ms", "ttft p90 ms",
            "client tok/s"))
        failed = False
        for level in a.levels:
            res, errors, wall = run_level(t, a, level, bias, stamp)
            if errors:
                failed = True
                print("%5d  %d request(s) failed: %s" % (level, len(errors), errors[0]))
            if not res:
                continue
            gen = sum(r["tokens"] for r in res)
            ttft = [r["ttft"] * 1e3 for r in res]
            client = [r["tokens"] / r["duration"] for r in res]
            print("%5d %8d %9d %8.2f %10.1f %12.1f %12.1f %14.1f" % (
                level, len(res), gen, wall, gen / wall, statistics.median(ttft), pct(ttft, 0.9),
                statistics.median(client)))
            short = sum(r["tokens"] != a.max_tokens for r in res)
            if short:  # an end token the ban did not cover, or a full context
                print("      note: %d answer(s) were not %d tokens long" % (short, a.max_tokens))
        return 1 if failed else 0
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            os.unlink(log)


if __name__ == "__main__":
    sys.exit(main())
