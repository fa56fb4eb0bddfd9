"""Reasoning in Session.generate: reasoning_budget, parts(), .reasoning /
.answer and result.n_reasoning on tiny-t25 with <think> / </think> tokens
(LFM2MOE_THINK_MODEL, made by tests/think/think_model.c)."""

import os
import unittest

import lfm2moe

THINK_MODEL = os.environ.get("LFM2MOE_THINK_MODEL")
PROMPT = "<|im_start|>user\nWhy?<|im_end|>\n<|im_start|>assistant\n<think>"
GREEDY = {"temperature": 0.0, "repeat_penalty": 1.0}


@unittest.skipUnless(THINK_MODEL, "LFM2MOE_THINK_MODEL not set (meson test sets it)")
class ReasoningTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = lfm2moe.Model(THINK_MODEL)
        cls.open = cls.model.token_lookup("<think>")
        cls.close = cls.model.token_lookup("</think>")
        v = cls.model.vocab
        # end of generation banned, </think> too: only the budget closes
        cls.ban = {t: -1e30 for t in (v.eos, v.end_of_turn, cls.close) if t >= 0}

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def run_budget(self, budget, n=20):
        s = self.model.session(n_ctx=256, threads=1)
        g = s.generate(PROMPT, max_tokens=n, reasoning_budget=budget, logit_bias=self.ban,
                       **GREEDY)
        streamed = list(g.parts())
        return s, g, streamed

    def test_budget_forces_close(self):
        for budget in (0, 3, 7):
            s, g, streamed = self.run_budget(budget)
            toks = s.tokens()
            n_prompt = len(toks) - g.result.n_generated
            gen = toks[n_prompt:]
            self.assertEqual(g.result.n_reasoning, budget)
            self.assertEqual(gen.index(self.close), budget)  # exactly after N
            self.assertEqual(gen.count(self.close), 1)
            self.assertEqual(g.reasoning, self.model.detokenize(gen[:budget]))
            self.assertEqual(g.answer, self.model.detokenize(gen[budget + 1:]))
            self.assertEqual(g.text(), self.model.detokenize(gen))  # tags included
            self.assertIn("</think>", g.text())
            # parts() streamed the same split, reasoning first
            names = [p for p, _ in streamed]
            self.assertEqual(names, sorted(names, key=lambda p: p != "reasoning"))
            self.assertEqual("".join(t for p, t in streamed if p == "answer"), g.answer)
            s.close()

    def test_no_budget(self):
        s, g, _ = self.run_budget(None, n=12)
        self.assertEqual(g.result.n_reasoning, 12)
        self.assertEqual(g.answer, "")
        s.close()

    def test_bad_budget(self):
        s = self.model.session(n_ctx=64)
        with self.assertRaises(ValueError):
            s.generate(PROMPT, reasoning_budget=-1)
        s.close()

    def test_cli(self):
        """python3 -m lfm2moe generate: the answer on stdout, the reasoning
        on stderr with --show-thinking."""
        import contextlib
        import io
        from lfm2moe.__main__ import main
        with self.model.session(threads=1) as s:
            g = s.generate(PROMPT, max_tokens=12, temperature=0.0, reasoning_budget=2)
            answer, reasoning = g.answer, g.reasoning
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(["generate", "-m", THINK_MODEL, "-p", PROMPT, "-n", "12", "--temp", "0",
                  "--reasoning-budget", "2", "--show-thinking", "-t", "1"])
        self.assertEqual(out.getvalue(), answer + "\n")
        self.assertTrue(err.getvalue().startswith(reasoning))
        self.assertTrue(reasoning)

    def test_model_without_think_tokens(self):
        golden = os.environ.get("LFM2MOE_GOLDEN_DIR",
                                os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                             "tests", "golden"))
        plain = lfm2moe.Model(os.path.join(golden, "tiny-t25-f32.gguf"))
        s = plain.session(n_ctx=256, threads=1)
        g = s.generate(PROMPT, max_tokens=8, reasoning_budget=0, **GREEDY)
        text = g.text()
        self.assertEqual(g.result.n_generated, 8)
        self.assertEqual(g.result.n_reasoning, 0)
        self.assertEqual(g.reasoning, "")
        self.assertEqual(g.answer, text)
        s.close()
        plain.close()


if __name__ == "__main__":
    unittest.main()
