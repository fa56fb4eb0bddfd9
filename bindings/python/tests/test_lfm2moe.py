"""Tests of the Python bindings against the golden files in tests/golden.

Run by `meson test` (test name "python-bindings") with LFM2MOE_LIBRARY set
to the built .so and PYTHONPATH to bindings/python; by hand:
    LFM2MOE_LIBRARY=build/lib/liblfm2moe.so PYTHONPATH=bindings/python \
        python3 -m unittest discover -s bindings/python/tests -v
"""

import gc
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

import lfm2moe
from lfm2moe import _native

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.environ.get("LFM2MOE_GOLDEN_DIR",
                        os.path.join(HERE, "..", "..", "..", "tests", "golden"))
MODEL = os.path.join(GOLDEN, "tiny-a-f32.gguf")
HAVE_GENERATE = _native.lfm2moe_generate is not None


def read_gld(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, n_prompt, n_gen, n_vocab = struct.unpack_from("<4i", data, 0)
    assert magic == 0x31444C47, "not a GLD1 file"
    n = n_prompt + n_gen
    tokens = list(struct.unpack_from("<%di" % n, data, 16))
    off = 16 + 4 * n
    rows = [struct.unpack_from("<%df" % n_vocab, data, off + 4 * n_vocab * t) for t in range(n)]
    return n_prompt, n_gen, n_vocab, tokens, rows


def max_abs_diff(a, b):
    return max(abs(x - y) for x, y in zip(a, b))


def argmax(row):
    return max(range(len(row)), key=row.__getitem__)


class LayoutTest(unittest.TestCase):
    """The ctypes struct mirrors have the C compiler's sizes and offsets."""

    @unittest.skipUnless(os.environ.get("LFM2MOE_LAYOUT_PROBE"), "layout probe not built")
    def test_struct_layout(self):
        out = subprocess.run([os.environ["LFM2MOE_LAYOUT_PROBE"]], check=True,
                             stdout=subprocess.PIPE).stdout
        c = json.loads(out)
        self.assertEqual(set(c), set(_native.STRUCTS))
        for name, cls in _native.STRUCTS.items():
            import ctypes
            self.assertEqual(ctypes.sizeof(cls), c[name]["sizeof"], name)
            for field, off in c[name]["fields"].items():
                self.assertEqual(getattr(cls, field).offset, off, "%s.%s" % (name, field))


class ModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = lfm2moe.Model(MODEL)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_version(self):
        self.assertEqual(lfm2moe.library_version().split(".")[0], "0")
        self.assertEqual(lfm2moe.library_version(), "%d.%d.%d" % (
            _native.lfm2moe_version() // 10000, _native.lfm2moe_version() // 100 % 100,
            _native.lfm2moe_version() % 100))

    def test_info(self):
        info = self.model.info
        # tiny-a: vocab 1024, hidden 128, 8 blocks, 2 attention, 8 experts top-4
        self.assertEqual((info.n_vocab, info.n_embd, info.n_block), (1024, 128, 8))
        self.assertEqual((info.n_expert, info.n_expert_used, info.n_attention_block), (8, 4, 2))
        self.assertEqual(info.architecture, "lfm2moe")
        self.assertEqual(info.file_size, os.path.getsize(MODEL))
        v = self.model.vocab
        self.assertEqual(v.n_vocab, 1024)
        self.assertEqual(v.bos, self.model.token_lookup("<|startoftext|>"))
        self.assertEqual(v.end_of_turn, self.model.token_lookup("<|im_end|>"))
        self.assertTrue(self.model.token_attr(v.end_of_turn) & _native.TOKEN_ATTR_END_OF_GENERATION)
        self.assertEqual(self.model.metadata("general.architecture"), "lfm2moe")
        self.assertIn("tokenizer.chat_template", self.model.metadata_keys())
        # Longer than the first buffer guess: exercises the BUFFER_TOO_SMALL retry.
        self.assertIn("<|im_start|>", self.model.metadata("tokenizer.chat_template"))

    def test_tokenizer_goldens(self):
        n = 0
        with open(os.path.join(GOLDEN, "tokenizer-a.jsonl"), encoding="utf-8") as f:
            for line in f:
                case = json.loads(line)
                ids = self.model.tokenize(case["text"], add_bos=case["add_special"],
                                          parse_special=case["parse_special"])
                self.assertEqual(ids, case["ids"], repr(case["text"]))
                n += 1
        self.assertGreater(n, 50)

    def test_chat_goldens(self):
        n = 0
        with open(os.path.join(GOLDEN, "chat-a.jsonl"), encoding="utf-8") as f:
            for line in f:
                case = json.loads(line)
                out = self.model.apply_chat_template(
                    case["messages"], tools=case.get("tools"),
                    add_generation_prompt=case["add_generation_prompt"])
                self.assertEqual(out, case["rendered"])
                if case.get("tools"):
                    # Strings are passed verbatim: same result from the JSON texts.
                    texts = [json.dumps(t, ensure_ascii=False) for t in case["tools"]]
                    self.assertEqual(self.model.apply_chat_template(
                        case["messages"], tools=texts,
                        add_generation_prompt=case["add_generation_prompt"]), case["rendered"])
                n += 1
        self.assertEqual(n, 7)

    def test_chat_goldens_lfm25(self):
        """LFM2.5's template (tool_calls, thinking, content parts) from the
        tiny-t25 file; the dense LFM2.5 template passed as a string."""
        cases = 0
        t25 = lfm2moe.Model(os.path.join(GOLDEN, "tiny-t25-f32.gguf"))
        dense_template = None
        try:
            dense_template = lfm2moe.Model(os.path.join(GOLDEN, "tiny-d-f32.gguf")).metadata(
                "tokenizer.chat_template")
        except lfm2moe.Error:  # the loader may not take `lfm2` files yet
            pass
        for name, model, template in (("chat-25moe-a.jsonl", t25, None),
                                      ("chat-25dense-a.jsonl", self.model, dense_template)):
            if name == "chat-25dense-a.jsonl" and template is None:
                continue
            with open(os.path.join(GOLDEN, name), encoding="utf-8") as f:
                for line in f:
                    case = json.loads(line)
                    want = case.pop("rendered")
                    out = model.apply_chat_template(chat_template=template, **case)
                    self.assertEqual(out, want, name)
                    cases += 1
        self.assertGreaterEqual(cases, 9)

    def test_chat_template_variables_and_errors(self):
        t = "{{ bos_token }}|{{ greeting }}|{{ messages | length }}|{{ tools | tojson }}"
        out = self.model.apply_chat_template([{"role": "user", "content": "x"}], tools=[{"a": 1}],
                                             chat_template=t, greeting="héllo")
        self.assertEqual(out, '<|startoftext|>|héllo|1|[{"a": 1}]')
        with self.assertRaises(lfm2moe.Error) as cm:
            self.model.apply_chat_template([], chat_template="{{ raise_exception('no') }}")
        self.assertIn("no", str(cm.exception))
        with self.assertRaises(lfm2moe.Error):
            self.model.apply_chat_template([], chat_template="{% include 'x' %}")

    def test_utf8_round_trip(self):
        text = "héllo wörld — 世界 🎉\x00 end"
        ids = self.model.tokenize(text, add_bos=False)
        self.assertEqual(self.model.detokenize(ids), text)
        self.assertEqual(self.model.detokenize_bytes(ids), text.encode("utf-8"))
        # Bytes in: invalid UTF-8 is tokenized byte by byte and comes back as is.
        raw = b"ok \xff\xfe \xe4\xb8"
        ids = self.model.tokenize(raw, add_bos=False)
        self.assertEqual(self.model.detokenize_bytes(ids), raw)
        self.assertEqual(b"".join(self.model.token_to_bytes(t) for t in ids), raw)
        # Special tokens are text only when parsed.
        self.assertEqual(self.model.tokenize("<|im_end|>", add_bos=False, parse_special=True),
                         [self.model.vocab.end_of_turn])
        self.assertGreater(len(self.model.tokenize("<|im_end|>", add_bos=False)), 1)

    def test_tool_calls(self):
        calls = lfm2moe.parse_tool_calls(
            '<|tool_call_start|>[get_weather(city="Paris"), add(a=2, b=3)]<|tool_call_end|>')
        self.assertEqual(calls, [{"name": "get_weather", "arguments": {"city": "Paris"}},
                                 {"name": "add", "arguments": {"a": 2, "b": 3}}])
        self.assertEqual(lfm2moe.parse_tool_calls("no calls here"), [])
        with self.assertRaises(lfm2moe.ParseError) as cm:
            lfm2moe.parse_tool_calls("<|tool_call_start|>[get_weather(city=]<|tool_call_end|>")
        self.assertEqual(cm.exception.status, _native.ERR_PARSE)


class LogitsTest(unittest.TestCase):
    """Logits through the bindings equal llama.cpp's (tests/golden/README.md:
    F32 weights, every row max |d| <= 0.01, identical argmax)."""

    def test_golden_logits(self):
        n_prompt, n_gen, n_vocab, tokens, rows = read_gld(os.path.join(GOLDEN, "tiny-a-f32.gld"))
        with lfm2moe.Model(MODEL) as m, lfm2moe.Session(m, n_ctx=n_prompt + n_gen,
                                                       threads=2) as s:
            s.decode(tokens[:n_prompt], all_logits=True)
            self.assertEqual(s.position, n_prompt)
            worst = 0.0
            for t in range(n_prompt):
                row = s.logits_at(t)
                self.assertEqual(len(row), n_vocab)
                self.assertEqual(row.dtype.str if hasattr(row, "dtype") else row.format,
                                 "<f4" if hasattr(row, "dtype") else "f")
                worst = max(worst, max_abs_diff(row, rows[t]))
                self.assertEqual(argmax(row), argmax(rows[t]), "row %d" % t)
            self.assertEqual(list(s.logits), list(s.logits_at(n_prompt - 1)))
            # Then the greedy continuation, one token at a time.
            for t in range(n_prompt, n_prompt + n_gen):
                s.decode([tokens[t]])
                worst = max(worst, max_abs_diff(s.logits, rows[t]))
                self.assertEqual(argmax(s.logits), argmax(rows[t]))
            self.assertLessEqual(worst, 0.01)
            # Full context now.
            with self.assertRaises(lfm2moe.ContextFullError):
                s.decode([1])
            s.reset()
            self.assertEqual(s.position, 0)
            s.decode(tokens[:3])
            self.assertLessEqual(max_abs_diff(s.logits, rows[2]), 0.01)


    def test_kv_types(self):
        """Smaller KV caches stay near the F32 goldens (README: F16 max |d|
        <= 0.05; Q8_0 is checked by the C tests by relative RMS)."""
        n_prompt, n_gen, n_vocab, tokens, rows = read_gld(os.path.join(GOLDEN, "tiny-a-f32.gld"))
        with lfm2moe.Model(MODEL) as m:
            for kv in ("f16", "q8_0"):
                with lfm2moe.Session(m, n_ctx=n_prompt, threads=2, kv_type=kv) as s:
                    self.assertEqual(s.kv_type, kv)
                    s.decode(tokens[:n_prompt], all_logits=True)
                    worst = max(max_abs_diff(s.logits_at(t), rows[t]) for t in range(n_prompt))
                    if kv == "f16":
                        self.assertLessEqual(worst, 0.05)
            with self.assertRaises(ValueError):
                lfm2moe.Session(m, kv_type="q4")

    def test_decode_batch(self):
        """Batched decoding of several sessions equals separate decodes."""
        n_prompt, n_gen, n_vocab, tokens, rows = read_gld(os.path.join(GOLDEN, "tiny-a-f32.gld"))
        with lfm2moe.Model(MODEL) as m:
            batch = [lfm2moe.Session(m, n_ctx=64, threads=1) for _ in range(3)]
            alone = [lfm2moe.Session(m, n_ctx=64, threads=1) for _ in range(3)]
            for step in ([tokens[:5], tokens[2:4], tokens[7:8]], [[3], [9], tokens[1:4]]):
                lfm2moe.Session.decode_batch(batch, step)
                for b, a, t in zip(batch, alone, step):
                    a.decode(t)
                    self.assertLessEqual(max_abs_diff(b.logits, a.logits), 0.01)
                    self.assertEqual(argmax(b.logits), argmax(a.logits))
                    self.assertEqual(b.position, a.position)
            with self.assertRaises(lfm2moe.TokenOutOfRangeError):
                lfm2moe.Session.decode_batch(batch, [[1], [n_vocab], [1]])
            self.assertEqual([s.position for s in batch], [a.position for a in alone])
            with self.assertRaises(ValueError):
                lfm2moe.Session.decode_batch([batch[0], batch[0]], [[1], [1]])
            for s in batch + alone:
                s.close()


class ErrorsTest(unittest.TestCase):
    def test_load_errors(self):
        with self.assertRaises(lfm2moe.IoError) as cm:
            lfm2moe.Model(os.path.join(GOLDEN, "no-such-file.gguf"))
        e = cm.exception
        self.assertIsInstance(e, lfm2moe.Error)
        self.assertEqual(e.status, _native.ERR_IO)
        self.assertEqual(e.status_name, _native.lfm2moe_status_string(-3).decode())
        self.assertIn("no-such-file.gguf", e.message)
        with tempfile.NamedTemporaryFile(suffix=".gguf") as f:
            f.write(b"not a gguf file at all, just some bytes" * 4)
            f.flush()
            with self.assertRaises(lfm2moe.BadFormatError) as cm:
                lfm2moe.Model(f.name)
            self.assertEqual(cm.exception.status, _native.ERR_BAD_FORMAT)
            self.assertTrue(cm.exception.message)
        with self.assertRaises(lfm2moe.BadFormatError):
            lfm2moe.Model.from_bytes(b"GGUF" + b"\x00" * 8)

    def test_from_bytes(self):
        with open(MODEL, "rb") as f:
            data = f.read()
        with lfm2moe.Model.from_bytes(data) as m:
            self.assertEqual(m.info.n_vocab, 1024)
            with m.session(n_ctx=16, threads=1) as s:
                s.decode([1, 6, 133])
                self.assertEqual(len(s.logits), 1024)

    def test_call_errors(self):
        with lfm2moe.Model(MODEL) as m, lfm2moe.Session(m, n_ctx=8, threads=1) as s:
            with self.assertRaises(lfm2moe.TokenOutOfRangeError):
                s.decode([1, 5000])
            self.assertEqual(s.position, 0)  # the session is as before the call
            with self.assertRaises(lfm2moe.InvalidArgumentError):
                s.decode([])
            with self.assertRaises(lfm2moe.NotFoundError):
                s.logits_at(-1)  # nothing decoded yet
            s.decode([1, 6])
            with self.assertRaises(lfm2moe.NotFoundError):
                s.logits_at(0)  # needs all_logits
            with self.assertRaises(lfm2moe.ContextFullError) as cm:
                s.decode(list(range(10, 20)))
            self.assertEqual(s.position, 2)
            self.assertIn("lfm2moe_decode_step", str(cm.exception))
            with self.assertRaises(lfm2moe.NotFoundError):
                m.token_lookup("definitely not a token")
            with self.assertRaises(lfm2moe.NotFoundError):
                m.metadata("no.such.key")
            with self.assertRaises(lfm2moe.TokenOutOfRangeError):
                m.detokenize([1, 99999])
            with self.assertRaises(lfm2moe.LimitError):
                lfm2moe.Session(m, n_ctx=4096, max_memory=1)
        # Every status code has its own subclass.
        codes = {cls.status for cls in lfm2moe.Error.__subclasses__()}
        self.assertEqual(codes, set(range(-16, 0)))

    def test_close(self):
        m = lfm2moe.Model(MODEL)
        s = lfm2moe.Session(m, n_ctx=8, threads=1)
        s.close()
        s.close()  # harmless
        self.assertTrue(s.closed)
        with self.assertRaises(lfm2moe.ClosedError):
            s.decode([1])
        with self.assertRaises(lfm2moe.ClosedError):
            s.position
        s2 = lfm2moe.Session(m, n_ctx=8, threads=1)
        m.close()  # closes s2 first (children before the parent)
        m.close()
        self.assertTrue(s2.closed)
        with self.assertRaises(lfm2moe.ClosedError):
            s2.logits
        with self.assertRaises(lfm2moe.ClosedError):
            m.tokenize("hi")
        with self.assertRaises(lfm2moe.ClosedError):
            lfm2moe.Session(m)

    def test_session_keeps_model_alive(self):
        s = lfm2moe.Session(lfm2moe.Model(MODEL), n_ctx=8, threads=1)
        gc.collect()
        s.decode([1, 6, 133])
        self.assertEqual(s.position, 3)
        self.assertFalse(s.model.closed)
        del s
        gc.collect()


@unittest.skipUnless(HAVE_GENERATE, "the loaded library has no lfm2moe_generate")
class GenerateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = lfm2moe.Model(MODEL)
        cls.gld = read_gld(os.path.join(GOLDEN, "tiny-a-f32.gld"))

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    GREEDY = dict(temperature=0.0, repeat_penalty=1.0, min_p=0.0, top_p=1.0, top_k=0)

    def test_greedy_matches_golden(self):
        n_prompt, n_gen, _, tokens, _ = self.gld
        want = self.model.detokenize_bytes(tokens[n_prompt:]).decode("utf-8", "replace")
        with self.model.session(n_ctx=128, threads=1) as s:
            g = s.generate(tokens[:n_prompt], max_tokens=n_gen, **self.GREEDY)
            pieces = list(g)
            self.assertEqual("".join(pieces), want)
            self.assertEqual(g.result.stop_reason, "max_tokens")
            self.assertEqual(g.result.n_generated, n_gen)
            self.assertEqual(g.result.n_prompt_tokens, n_prompt)
            # Generated tokens are appended to the session.
            self.assertEqual(s.position, n_prompt + n_gen)

    def test_seeded_reproducible(self):
        prompt = self.model.apply_chat_template([{"role": "user", "content": "Tell me a story"}])
        outs = []
        for seed in (1234, 1234, 99):
            with self.model.session(n_ctx=256, threads=1) as s:
                g = s.generate(prompt, max_tokens=40, temperature=1.0, min_p=0.0, seed=seed)
                outs.append((g.text(), g.result.n_generated))
        self.assertEqual(outs[0], outs[1])
        self.assertGreater(outs[0][1], 0)

    def test_stop_string_and_chat(self):
        n_prompt, n_gen, _, tokens, _ = self.gld
        full = self.model.detokenize(tokens[n_prompt:])
        stop = full[len(full) // 2:len(full) // 2 + 3]
        with self.model.session(n_ctx=128, threads=1) as s:
            g = s.generate(tokens[:n_prompt], max_tokens=n_gen, stop=[stop], **self.GREEDY)
            text = g.text()
            self.assertEqual(g.result.stop_reason, "stop_string")
            self.assertEqual(text, full[:full.index(stop)])
            reply = s.chat([{"role": "user", "content": "Hi there"}], max_tokens=8, seed=3)
            self.assertIsInstance(reply, str)

    def test_early_close_and_cancel(self):
        # A long run (no end-of-turn token, a large context) so that stopping
        # it early is the only way it ends quickly.
        n_prompt, _, _, tokens, _ = self.gld
        no_eos = {self.model.vocab.eos: -1e9, self.model.vocab.end_of_turn: -1e9}
        with self.model.session(n_ctx=4096, threads=1) as s:
            g = s.generate(tokens[:n_prompt], max_tokens=0, logit_bias=no_eos, **self.GREEDY)
            first = next(g)
            self.assertIsInstance(first, str)
            with self.assertRaises(RuntimeError):
                s.decode([1])  # busy while the generation runs
            g.close()
            self.assertIn(g.result.stop_reason, ("callback", "cancelled"))
            self.assertLess(g.result.n_generated, 4096 - n_prompt)
            pos = s.position
            self.assertLessEqual(pos, n_prompt + g.result.n_generated)
            s.decode([1])  # usable again
            self.assertEqual(s.position, pos + 1)
            # Cancel from another thread.
            s.reset()
            g = s.generate(tokens[:n_prompt], max_tokens=0, logit_bias=no_eos, **self.GREEDY)
            next(g)
            t = threading.Thread(target=s.cancel)
            t.start()
            t.join()
            g.text()
            self.assertEqual(g.result.stop_reason, "cancelled")
            self.assertLess(g.result.n_generated, 4096 - n_prompt)

    def test_close_while_generating(self):
        n_prompt, _, _, tokens, _ = self.gld
        no_eos = {self.model.vocab.eos: -1e9}
        # Closing the model closes the session, which stops the run first.
        m = lfm2moe.Model(MODEL)
        s = m.session(n_ctx=4096, threads=1)
        g = s.generate(tokens[:n_prompt], max_tokens=0, logit_bias=no_eos, **self.GREEDY)
        next(g)
        m.close()
        self.assertTrue(s.closed)
        rest = g.text()  # what was queued before the stop, then the end
        self.assertIsInstance(rest, str)
        self.assertIn(g.result.stop_reason, ("callback", "cancelled"))
        g.close()
        # Dropping an unfinished generation (and its session) stops it too.
        s = self.model.session(n_ctx=4096, threads=1)
        g = s.generate(tokens[:n_prompt], max_tokens=0, logit_bias=no_eos, **self.GREEDY)
        next(g)
        thread = g._state.thread
        del g, s
        gc.collect()
        thread.join(timeout=60)
        self.assertFalse(thread.is_alive())

    def test_generate_error(self):
        with self.model.session(n_ctx=16, threads=1) as s:
            g = s.generate([1, 5000], max_tokens=4)
            with self.assertRaises(lfm2moe.TokenOutOfRangeError) as cm:
                g.text()
            self.assertTrue(cm.exception.message)
            self.assertEqual(s.position, 0)
            with self.assertRaises(TypeError):
                s.generate([1], temprature=0.5)


class PythonicTest(unittest.TestCase):
    """Zero-copy logits, asyncio streaming, docstrings, python -m lfm2moe."""

    @classmethod
    def setUpClass(cls):
        cls.model = lfm2moe.Model(MODEL)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_logits_zero_copy(self):
        import ctypes
        with self.model.session(n_ctx=64, threads=1) as s:
            s.decode(self.model.tokenize("Hello"))
            ptr = ctypes.POINTER(ctypes.c_float)()
            _native.lfm2moe_session_logits(s._ptr, -1, ctypes.byref(ptr))
            address = ctypes.addressof(ptr.contents)
            view = s.logits
            try:
                import numpy
            except ImportError:
                numpy = None
            if numpy is not None:
                self.assertIsInstance(view, numpy.ndarray)
                self.assertEqual(view.ctypes.data, address)
                self.assertFalse(view.flags.writeable)
            else:
                self.assertIsInstance(view, memoryview)
                self.assertTrue(view.readonly)
            # a view of the session's buffer: a write there shows through
            old = ptr[3]
            ptr[3] = 12345.0
            self.assertEqual(float(view[3]), 12345.0)
            ptr[3] = old

    @unittest.skipUnless(HAVE_GENERATE, "the loaded library has no lfm2moe_generate")
    def test_agenerate(self):
        import asyncio
        prompt = self.model.apply_chat_template([{"role": "user", "content": "Hi"}])
        with self.model.session(n_ctx=128, threads=1) as s:
            want = s.generate(prompt, max_tokens=12, temperature=0).text()
            s.reset()

            async def run():
                agen = s.agenerate(prompt, max_tokens=12, temperature=0)
                pieces = [p async for p in agen]
                return pieces, agen.result

            pieces, result = asyncio.run(run())
            self.assertEqual("".join(pieces), want)
            self.assertEqual(result.n_generated, 12 if result.stop_reason == "max_tokens"
                             else result.n_generated)
            s.reset()

            async def stop_early():
                async with s.agenerate(prompt, max_tokens=100, temperature=0) as agen:
                    async for _ in agen:
                        break
                return agen.result

            self.assertIn(asyncio.run(stop_early()).stop_reason, ("callback", "cancelled",
                                                                  "eos", "max_tokens"))

    def test_docstrings(self):
        import inspect
        self.assertIn("LFM2", lfm2moe.__doc__)
        for name in lfm2moe.__all__:
            obj = getattr(lfm2moe, name)
            self.assertTrue(inspect.getdoc(obj), name)
            if inspect.isclass(obj) and not issubclass(obj, BaseException):
                for attr, member in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    if isinstance(member, property):
                        member = member.fget
                    if callable(member):
                        self.assertTrue(inspect.getdoc(member), "%s.%s" % (name, attr))

    @unittest.skipUnless(HAVE_GENERATE, "the loaded library has no lfm2moe_generate")
    def test_main_module(self):
        demo = os.path.join(HERE, "..", "..", "..", "models", "lfm2moe-demo-f32.gguf")
        out = subprocess.run([sys.executable, "-m", "lfm2moe", "generate", "-m", demo, "-p",
                              "What is 17 plus 25?", "--chat", "--temp", "0", "-n", "24"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
        self.assertIn(b"42", out.stdout)
        self.assertIn(b"tok/s", out.stderr)
        out = subprocess.run([sys.executable, "-m", "lfm2moe", "chat", "-m", demo, "--temp", "0"],
                             input=b"What is 17 plus 25?\nWhat is 30 plus 12?\n",
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
        self.assertEqual(out.stdout.count(b"42"), 2, out.stdout)



@unittest.skipUnless(_native.lfm2moe_session_rewind is not None, "library without session history")
class HistoryTest(unittest.TestCase):
    """rewind, tokens, save/load (bytes and path), copy, chat's prefix reuse."""

    @classmethod
    def setUpClass(cls):
        cls.model = lfm2moe.Model(MODEL)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def next_logits(self, s, toks):
        s.decode(toks, all_logits=True)
        return [bytes(s.logits_at(i)) for i in range(len(toks))]

    def test_rewind_tokens(self):
        ids = [(i * 37 + 5) % 1024 for i in range(50)]
        with self.model.session(n_ctx=128, threads=1, checkpoint_interval=8) as s, \
                self.model.session(n_ctx=128, threads=1) as fresh:
            s.decode(ids)
            self.assertEqual(s.tokens(), ids)
            s.rewind(21)
            self.assertEqual(s.position, 21)
            self.assertEqual(s.tokens(), ids[:21])
            fresh.decode(ids[:21])
            self.assertEqual(self.next_logits(s, ids[21:25]), self.next_logits(fresh, ids[21:25]))
            with self.assertRaises(lfm2moe.Error):
                s.rewind(100)

    def test_save_load_copy(self):
        ids = [(i * 11 + 3) % 1024 for i in range(40)]
        with self.model.session(n_ctx=128, threads=1) as a:
            a.decode(ids[:30])
            snap = a.save()
            self.assertIsInstance(snap, bytes)
            with self.model.session(n_ctx=256, threads=1) as b:
                b.load(snap)
                self.assertEqual(b.tokens(), ids[:30])
                path = os.path.join(tempfile.mkdtemp(), "s.bin")
                a.save(path)
                with self.model.session(n_ctx=128, threads=1) as c:
                    c.load(path)
                    with a.copy() as d, a.copy(n_ctx=64, threads=1) as e:
                        want = self.next_logits(a, ids[30:])
                        for other in (b, c, d, e):
                            self.assertEqual(self.next_logits(other, ids[30:]), want)
                os.remove(path)
                # damaged or too big: refused, b unchanged
                before = b.tokens()
                for bad in (snap[:-1], snap[:100], b"x" * 200):
                    with self.assertRaises(lfm2moe.Error):
                        b.load(bad)
                    self.assertEqual(b.tokens(), before)
                with self.model.session(n_ctx=16, threads=1) as small:
                    with self.assertRaises(lfm2moe.Error):
                        small.load(snap)
                    self.assertEqual(small.position, 0)

    @unittest.skipUnless(HAVE_GENERATE, "library without lfm2moe_generate")
    def test_chat_reuses_the_conversation(self):
        msgs = [{"role": "user", "content": "Hi there"}]
        with self.model.session(n_ctx=512, threads=1) as s:
            reply = s.chat(msgs, max_tokens=6, temperature=0.0)
            first = s.last_result
            self.assertEqual(first.n_prompt_reused, 0)
            msgs += [{"role": "assistant", "content": reply}, {"role": "user", "content": "More"}]
            s.chat(msgs, max_tokens=6, temperature=0.0)
            second = s.last_result
            # the first turn's prompt at least is not evaluated again
            self.assertGreaterEqual(second.n_prompt_reused, first.n_prompt_tokens)
            # regenerate the last answer: one token evaluated
            again = s.chat(msgs, max_tokens=6, temperature=0.0)
            self.assertEqual(s.last_result.n_prompt_tokens, 1)
            with self.model.session(n_ctx=512, threads=1) as fresh:
                self.assertEqual(fresh.chat(msgs, max_tokens=6, temperature=0.0), again)


if __name__ == "__main__":
    unittest.main()
