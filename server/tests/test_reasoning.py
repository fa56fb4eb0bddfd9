"""reasoning_content and tool_choice on a model whose vocabulary has <think>,
</think> and <|tool_call_start|>: tiny-t25-f32.gguf (random weights, the
LFM2.5 chat template) with two tokens renamed (think_model.py).

The tokens renamed are ones the model is known to produce: the greedy
continuation of the prompt is computed first with the CLI, and a token near
its start becomes <think>, a later one </think>.  The server must then
return the text between them as reasoning_content and the rest as content,
whole and streamed, byte for byte as /detokenize gives those runs of tokens.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import unittest

from server_harness import Server
from think_model import write_think_model

SOURCE = os.path.join(os.environ["LFM2MOE_GOLDEN_DIR"], "tiny-t25-f32.gguf")
CLI = os.environ["LFM2MOE_CLI"]
MESSAGES = [{"role": "user", "content": "Think first, then answer: what is 2 plus 3?"}]
N_GEN = 32
GREEDY = {"temperature": 0, "repeat_penalty": 1}
TOOLS = [{"type": "function", "function": {
    "name": "add", "description": "add two numbers",
    "parameters": {"type": "object", "properties": {"a": {"type": "integer"},
                                                    "b": {"type": "integer"}},
                   "required": ["a", "b"]}}}]


def cli(*args, stdin=b""):
    return subprocess.run([CLI, *args], input=stdin, capture_output=True, check=True).stdout


def greedy_continuation(tmp):
    """(prompt ids, the greedy continuation's ids, whether it ended with an
    end-of-generation token) on the source model, through the CLI (the
    template, the tokenizer, and `eval` for the logits of each step)."""
    text = cli("template", "-m", SOURCE,
               stdin=json.dumps({"messages": MESSAGES, "add_generation_prompt": True}).encode())
    prompt = json.loads(cli("tokenize", "-m", SOURCE, "--no-bos", "--parse-special", stdin=text))
    n_vocab = int(re.search(rb"vocab:\s+(\d+)", cli("info", "-m", SOURCE)).group(1))
    ends = set()
    for special in ("<|im_end|>", "<|endoftext|>"):
        ends.update(json.loads(cli("tokenize", "-m", SOURCE, "--no-bos", "--parse-special",
                                   stdin=special.encode())))
    gen, ended = [], False
    src, out = os.path.join(tmp, "in.gld"), os.path.join(tmp, "out.gld")
    while len(gen) < N_GEN and not ended:
        ids = prompt + gen
        with open(src, "wb") as f:  # the golden format: magic, n_prompt, n_gen, n_vocab, ids
            f.write(struct.pack("<4i", 0x31444C47, len(prompt), len(gen), n_vocab))
            f.write(struct.pack("<%di" % len(ids), *ids))
        cli("eval", "-m", SOURCE, "--tokens", src, "--out", out, "-t", "1")
        with open(out, "rb") as f:
            f.seek(16 + 4 * len(ids) + 4 * n_vocab * (len(ids) - 1))
            row = struct.unpack("<%df" % n_vocab, f.read(4 * n_vocab))
        gen.append(max(range(n_vocab), key=row.__getitem__))
        ended = gen[-1] in ends
    return prompt, gen, ended


def pick_tags(prompt, gen):
    """Indices i < j of two ordinary tokens of gen, each its first occurrence
    and absent from the prompt, with reasoning between and content after."""
    ok = [k for k, t in enumerate(gen) if t > 15 and t not in prompt and t not in gen[:k]]
    i = ok[0]
    j = next(k for k in ok if k >= i + 4 and gen[k] != gen[i])
    assert j + 2 < len(gen), (gen, i, j)
    return i, j


class ReasoningTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lfm2moe-think-")
        cls.prompt, cls.gen, cls.ended = greedy_continuation(cls.tmp)
        i, j = pick_tags(cls.prompt, cls.gen)
        cls.open_id, cls.close_id = cls.gen[i], cls.gen[j]
        path = os.path.join(cls.tmp, "tiny-think.gguf")
        write_think_model(SOURCE, path, cls.open_id, cls.close_id)
        cls.srv = Server("--parallel", "2", "--threads", "1", "--ctx", "1024", model=path)

    @classmethod
    def tearDownClass(cls):
        rc, log = cls.srv.stop()
        shutil.rmtree(cls.tmp)
        if rc != 0 or "Sanitizer" in log or "runtime error" in log:
            raise AssertionError("server exit %r, log:\n%s" % (rc, log[-6000:]))

    def post(self, body):
        st, _, b = self.srv.request("POST", "/v1/chat/completions", body)
        self.assertEqual(st, 200, b)
        return b

    def expected(self):
        """(reasoning, content): the tags switch between the two, each run of
        tokens detokenized as a whole."""
        runs, cur, state = [], [], "content"
        for t in self.gen[:-1] if self.ended else self.gen:  # the end token has no text
            if t in (self.open_id, self.close_id):
                runs.append((state, cur))
                cur, state = [], "reasoning" if t == self.open_id else "content"
            else:
                cur.append(t)
        runs.append((state, cur))
        out = {"reasoning": "", "content": ""}
        for kind, ids in runs:
            if ids:
                st, _, b = self.srv.request("POST", "/detokenize", {"tokens": ids})
                out[kind] += b["content"]
        return out["reasoning"], out["content"]

    def test_vocabulary(self):
        for text, want in (("<think>", self.open_id), ("</think>", self.close_id)):
            st, _, b = self.srv.request("POST", "/tokenize", {"content": text})
            self.assertEqual(b["tokens"], [want])

    def test_reasoning_content(self):
        reasoning, content = self.expected()
        self.assertTrue(reasoning and content)
        b = self.post({"messages": MESSAGES, "max_tokens": N_GEN, **GREEDY})
        self.assertEqual(b["usage"]["prompt_tokens"], len(self.prompt))
        msg = b["choices"][0]["message"]
        self.assertEqual(msg, {"role": "assistant", "content": content,
                               "reasoning_content": reasoning})
        self.assertEqual(b["usage"]["completion_tokens"], len(self.gen))

    def test_reasoning_content_streamed(self):
        reasoning, content = self.expected()
        st, ctype, ev = self.srv.stream("/v1/chat/completions",
                                        {"messages": MESSAGES, "max_tokens": N_GEN, "stream": True,
                                         **GREEDY})
        self.assertEqual((st, ctype), (200, "text/event-stream"))
        self.assertEqual(ev[-1], "[DONE]")
        chunks = [json.loads(e) for e in ev[:-1]]
        deltas = [c["choices"][0]["delta"] for c in chunks]
        self.assertEqual(deltas[0], {"role": "assistant", "content": ""})
        self.assertEqual(deltas[-1], {})
        for d in deltas[1:-1]:  # each delta carries one of the two
            self.assertEqual(len(d), 1, d)
            self.assertIn(next(iter(d)), ("content", "reasoning_content"))
        self.assertEqual("".join(d.get("reasoning_content", "") for d in deltas), reasoning)
        self.assertEqual("".join(d.get("content", "") for d in deltas), content)
        self.assertIn(chunks[-1]["choices"][0]["finish_reason"], ("stop", "length"))

    def test_tool_choice(self):
        # <|tool_call_start|> pushed to the top: "auto" starts a call with it
        # (constrained to the tool from there on: cut by max_tokens, it shows
        # as text), "none" never samples it, "required" / a named function
        # give calls
        bias = {"logit_bias": {"10": 100}}
        st, _, b = self.srv.request("POST", "/tokenize", {"content": "<|tool_call_start|>"})
        self.assertEqual(b["tokens"], [10])
        auto = self.post({"messages": MESSAGES, "tools": TOOLS, "tool_choice": "auto",
                          "max_tokens": 12, **GREEDY, **bias})["choices"][0]
        self.assertEqual(auto["finish_reason"], "length")
        self.assertTrue(auto["message"]["content"].startswith("<|tool_call_start|>[add(a="), auto)
        none = self.post({"messages": MESSAGES, "tools": TOOLS, "tool_choice": "none",
                          "max_tokens": 8, **GREEDY, **bias})["choices"][0]
        self.assertNotIn("tool_calls", none["message"])
        self.assertNotIn("<|tool_call_start|>", none["message"]["content"])
        self.assertNotEqual(none["finish_reason"], "tool_calls")
        for choice in ("required", {"type": "function", "function": {"name": "add"}}):
            r = self.post({"messages": MESSAGES, "tools": TOOLS, "tool_choice": choice,
                           "max_tokens": 200, **GREEDY})["choices"][0]
            self.assertEqual(r["finish_reason"], "tool_calls", r)
            for call in r["message"]["tool_calls"]:
                self.assertEqual(call["function"]["name"], "add")
                args = json.loads(call["function"]["arguments"])
                self.assertEqual(sorted(args), ["a", "b"])
                self.assertTrue(all(isinstance(v, int) for v in args.values()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
