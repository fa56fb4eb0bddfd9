"""lfm2moe-server against the demo model: OpenAI shapes, SSE framing,
concurrency, hostile input, API key, clean shutdown (no sanitizer report)."""
import json
import re
import select
import signal
import socket
import threading
import time
import unittest

from server_harness import Server, sse_events

try:
    import jsonschema
except ImportError:  # the schema tests skip with a message
    jsonschema = None

QUESTION = [{"role": "user", "content": "What is 17 plus 25?"}]
TOOLS = [
    {"type": "function", "function": {
        "name": "add", "description": "add two numbers",
        "parameters": {"type": "object", "properties": {"a": {"type": "integer"},
                                                        "b": {"type": "integer"}},
                       "required": ["a", "b"]}}},
    {"type": "function", "function": {
        "name": "reverse", "description": "reverse a word",
        "parameters": {"type": "object", "properties": {"word": {"type": "string", "maxLength": 10}},
                       "required": ["word"]}}}]
SCHEMA = {"type": "object",
          "properties": {"answer": {"type": "integer"},
                         "word": {"type": "string", "maxLength": 8},
                         "sure": {"type": "boolean"}},
          "required": ["answer", "word"], "additionalProperties": False}
JSON_SCHEMA = {"type": "json_schema",
               "json_schema": {"name": "sum", "strict": True, "schema": SCHEMA}}


def chat(question):
    return [{"role": "user", "content": question}]


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--parallel", "8", "--queue", "8", "--ctx", "8192", "--threads", "1",
                         "--read-timeout", "3", "--max-body", "1000000")

    @classmethod
    def tearDownClass(cls):
        rc, log = cls.srv.stop()
        if rc != 0 or "Sanitizer" in log or "runtime error" in log:
            raise AssertionError("server exit %r, log:\n%s" % (rc, log[-6000:]))
        # one log line per request, with the generation figures
        assert re.search(r"req=\d+ POST /v1/chat/completions 200 prompt=\d+ cached=\d+ "
                         r"generated=\d+ ttft=[\d.]+ms [\d.]+tok/s", log), log[-3000:]

    def post(self, path, body, **kw):
        return self.srv.request("POST", path, body, **kw)

    def stream(self, path, body):
        st, ctype, ev = self.srv.stream(path, body)
        self.assertEqual(st, 200, ev)
        self.assertEqual(ctype, "text/event-stream")
        return ev

    def special_ids(self):
        ids = []
        for t in ("<|im_end|>", "<|endoftext|>"):
            st, _, b = self.post("/tokenize", {"content": t})
            ids += b["tokens"] if len(b["tokens"]) == 1 else []
        return ids

    # --- the happy paths -------------------------------------------------
    def test_chat_completion(self):
        st, _, b = self.post("/v1/chat/completions", {"messages": QUESTION, "temperature": 0})
        self.assertEqual(st, 200)
        self.assertEqual(b["object"], "chat.completion")
        self.assertTrue(b["id"].startswith("chatcmpl-"))
        ch = b["choices"][0]
        self.assertEqual(ch["message"], {"role": "assistant", "content": "17 + 25 = 42."})
        self.assertEqual(ch["finish_reason"], "stop")
        u = b["usage"]
        self.assertEqual(u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"])
        self.assertGreater(u["prompt_tokens"], 5)

    def test_prompt_cache(self):
        # the next turn of a conversation reuses the slot that holds it
        first = self.post("/v1/chat/completions", {"messages": chat("What is 23 plus 19?"),
                                                   "temperature": 0})[2]
        reply = first["choices"][0]["message"]["content"]
        msgs = chat("What is 23 plus 19?") + [{"role": "assistant", "content": reply},
                                               {"role": "user", "content": "What is 11 plus 12?"}]
        second = self.post("/v1/chat/completions", {"messages": msgs, "temperature": 0})[2]
        cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
        self.assertGreaterEqual(cached, first["usage"]["prompt_tokens"])
        self.assertLess(cached, second["usage"]["prompt_tokens"])

    def test_chat_max_tokens_length(self):
        st, _, b = self.post("/v1/chat/completions",
                             {"messages": QUESTION, "temperature": 0, "max_tokens": 3})
        self.assertEqual(st, 200)
        self.assertEqual(b["choices"][0]["finish_reason"], "length")
        self.assertEqual(b["usage"]["completion_tokens"], 3)

    def test_stop_string(self):
        st, _, b = self.post("/v1/chat/completions",
                             {"messages": QUESTION, "temperature": 0, "stop": [" = "]})
        self.assertEqual(b["choices"][0]["message"]["content"], "17 + 25")
        self.assertEqual(b["choices"][0]["finish_reason"], "stop")

    def test_chat_stream_framing(self):
        whole = self.post("/v1/chat/completions", {"messages": QUESTION, "temperature": 0})[2]
        ev = self.stream("/v1/chat/completions",
                         {"messages": QUESTION, "temperature": 0, "stream": True})
        self.assertEqual(ev[-1], "[DONE]")
        chunks = [json.loads(e) for e in ev[:-1]]
        for c in chunks:
            self.assertEqual(c["object"], "chat.completion.chunk")
            self.assertEqual(c["id"], chunks[0]["id"])
            self.assertNotIn("usage", c)
            self.assertEqual(len(c["choices"]), 1)
        self.assertEqual(chunks[0]["choices"][0]["delta"], {"role": "assistant", "content": ""})
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        self.assertEqual(text, whole["choices"][0]["message"]["content"])
        self.assertEqual([c["choices"][0]["finish_reason"] for c in chunks][-1], "stop")
        self.assertTrue(all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1]))
        self.assertEqual(chunks[-1]["choices"][0]["delta"], {})

    def test_stream_include_usage(self):
        ev = self.stream("/v1/chat/completions",
                         {"messages": QUESTION, "temperature": 0, "stream": True,
                          "stream_options": {"include_usage": True}})
        self.assertEqual(ev[-1], "[DONE]")
        chunks = [json.loads(e) for e in ev[:-1]]
        self.assertTrue(all(c["usage"] is None for c in chunks[:-1]))
        self.assertEqual(chunks[-1]["choices"], [])
        u = chunks[-1]["usage"]
        self.assertEqual(u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"])

    def test_completions(self):
        st, _, b = self.post("/v1/completions",
                             {"prompt": "17 + 25 =", "max_tokens": 5, "temperature": 0, "echo": True})
        self.assertEqual(st, 200)
        self.assertEqual(b["object"], "text_completion")
        self.assertTrue(b["choices"][0]["text"].startswith("17 + 25 ="))
        self.assertEqual(b["choices"][0]["finish_reason"], "length")
        ev = self.stream("/v1/completions",
                         {"prompt": "17 + 25 =", "max_tokens": 5, "temperature": 0, "stream": True})
        self.assertEqual(ev[-1], "[DONE]")
        text = "".join(json.loads(e)["choices"][0]["text"] for e in ev[:-1])
        self.assertEqual("17 + 25 =" + text, b["choices"][0]["text"])

    def test_models_health_metrics_tokenize(self):
        st, _, b = self.srv.request("GET", "/v1/models")
        self.assertEqual(st, 200)
        self.assertEqual(b["data"][0]["id"], "lfm2moe-demo-f32.gguf")
        self.assertEqual(self.srv.request("GET", "/health")[2], {"status": "ok"})
        st, r, text = self.srv.request("GET", "/metrics")
        self.assertTrue(r.getheader("Content-Type").startswith("text/plain; version=0.0.4"))
        for name in ("lfm2moe_requests_total{status=\"2xx\"}", "lfm2moe_queue_length",
                     "lfm2moe_slots_busy", "lfm2moe_generated_tokens_total"):
            self.assertIn(name, text)
        st, _, t = self.post("/tokenize", {"content": "Hello world"})
        self.assertEqual(st, 200)
        st, _, d = self.post("/detokenize", {"tokens": t["tokens"]})
        self.assertEqual(d["content"], "Hello world")
        self.assertEqual(self.post("/detokenize", {"tokens": [10 ** 9]})[0], 400)
        self.assertEqual(self.srv.request("GET", "/nope")[0], 404)
        self.assertEqual(self.srv.request("GET", "/v1/chat/completions")[0], 405)

    def test_tool_messages_render(self):
        # a conversation carrying a tool call and its result is accepted
        msgs = QUESTION + [
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function",
                 "function": {"name": "add", "arguments": "{\"a\": 17, \"b\": 25}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "42"}]
        tools = [{"type": "function", "function": {
            "name": "add", "description": "add two numbers",
            "parameters": {"type": "object", "properties": {"a": {"type": "integer"},
                                                            "b": {"type": "integer"}}}}}]
        st, _, b = self.post("/v1/chat/completions",
                             {"messages": msgs, "tools": tools, "temperature": 0, "max_tokens": 20})
        self.assertEqual(st, 200, b)
        self.assertIn(b["choices"][0]["finish_reason"], ("stop", "length", "tool_calls"))

    # --- structured output ----------------------------------------------
    def tool_calls_of(self, body):
        """(the whole answer's message, the streamed one's calls rebuilt as a
        client does from delta.tool_calls, checking OpenAI's framing)."""
        st, _, b = self.post("/v1/chat/completions", body)
        self.assertEqual(st, 200, b)
        self.assertEqual(b["choices"][0]["finish_reason"], "tool_calls")
        ev = self.stream("/v1/chat/completions", dict(body, stream=True))
        self.assertEqual(ev[-1], "[DONE]")
        chunks = [json.loads(e) for e in ev[:-1]]
        self.assertEqual(chunks[0]["choices"][0]["delta"], {"role": "assistant", "content": ""})
        self.assertEqual(chunks[-1]["choices"][0]["delta"], {})
        self.assertEqual(chunks[-1]["choices"][0]["finish_reason"], "tool_calls")
        calls = []
        for c in chunks[1:-1]:
            self.assertIsNone(c["choices"][0]["finish_reason"])
            (tc,) = c["choices"][0]["delta"]["tool_calls"]
            if "id" in tc:  # a call starts: id, type, name, no arguments yet
                self.assertEqual(tc["index"], len(calls))
                self.assertEqual(tc["type"], "function")
                self.assertEqual(tc["function"]["arguments"], "")
                calls.append({"id": tc["id"], "type": "function",
                              "function": {"name": tc["function"]["name"], "arguments": ""}})
            else:  # its arguments
                self.assertEqual(set(tc), {"index", "function"})
                self.assertEqual(tc["index"], len(calls) - 1)
                calls[-1]["function"]["arguments"] += tc["function"]["arguments"]
        return b["choices"][0]["message"], calls

    def check_calls(self, calls, names):
        self.assertTrue(calls)
        params = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
        for call in calls:
            self.assertTrue(call["id"].startswith("call_"))
            self.assertIn(call["function"]["name"], names)
            args = json.loads(call["function"]["arguments"])
            if jsonschema:
                jsonschema.validate(args, params[call["function"]["name"]])

    def test_tool_choice_required(self):
        body = {"messages": QUESTION, "tools": TOOLS, "tool_choice": "required", "temperature": 0}
        msg, streamed = self.tool_calls_of(body)
        self.assertIsNone(msg["content"])
        self.check_calls(msg["tool_calls"], {"add", "reverse"})
        strip = lambda calls: [c["function"] for c in calls]
        self.assertEqual(strip(streamed), strip(msg["tool_calls"]))

    def test_tool_choice_named(self):
        body = {"messages": QUESTION, "tools": TOOLS, "temperature": 0,
                "tool_choice": {"type": "function", "function": {"name": "reverse"}}}
        msg, streamed = self.tool_calls_of(body)
        self.check_calls(msg["tool_calls"], {"reverse"})
        self.check_calls(streamed, {"reverse"})

    def test_tool_choice_none(self):
        st, _, b = self.post("/v1/chat/completions", {"messages": QUESTION, "tools": TOOLS,
                                                      "tool_choice": "none", "temperature": 0})
        self.assertEqual(st, 200, b)
        self.assertNotIn("tool_calls", b["choices"][0]["message"])
        self.assertEqual(b["choices"][0]["finish_reason"], "stop")

    def answer_whole_and_streamed(self, body):
        """The content of a whole answer that ends by "stop", checked equal to
        the streamed one."""
        st, _, b = self.post("/v1/chat/completions", body)
        self.assertEqual(st, 200, b)
        self.assertEqual(b["choices"][0]["finish_reason"], "stop")
        ev = self.stream("/v1/chat/completions", dict(body, stream=True))
        self.assertEqual(ev[-1], "[DONE]")
        text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in ev[:-1])
        self.assertEqual(text, b["choices"][0]["message"]["content"])
        return text

    def test_json_schema(self):
        if not jsonschema:
            self.skipTest("python3-jsonschema is not installed")
        for seed in range(4):  # greedy, then sampled
            fmt = json.loads(json.dumps(JSON_SCHEMA))
            fmt["json_schema"]["strict"] = seed != 3  # enforced either way
            text = self.answer_whole_and_streamed(
                {"messages": chat("What is 2 plus 3?"), "response_format": fmt, "seed": seed,
                 "temperature": 0 if seed == 0 else 1.0})
            jsonschema.validate(json.loads(text), SCHEMA)

    def test_json_object(self):
        text = self.answer_whole_and_streamed(
            {"messages": chat("Give the answer as JSON: what is 2 plus 3?"),
             "response_format": {"type": "json_object"}, "temperature": 0})
        self.assertIsInstance(json.loads(text), dict)

    def test_bad_structured_requests(self):
        rf = lambda r: {"messages": QUESTION, "response_format": r}
        js = lambda j: rf({"type": "json_schema", "json_schema": j})
        self.assert_error(rf({"type": "xml"}), param="response_format")
        self.assert_error(rf({"type": "json_object", "schema": {}}), param="response_format",
                          contains="unknown field")
        self.assert_error(rf({"type": "json_schema"}), param="response_format")
        self.assert_error(js({"schema": SCHEMA}), param="response_format", contains="name")
        self.assert_error(js({"name": "x", "schema": 5}), param="response_format")
        self.assert_error(js({"name": "x", "strict": "yes", "schema": SCHEMA}),
                          param="response_format")
        # schemas the library refuses: its message
        self.assert_error(js({"name": "x", "schema": {"type": "integer", "minimum": 3}}),
                          param="response_format", contains="unsupported keyword 'minimum'")
        self.assert_error(js({"name": "x", "schema": {"type": "object", "required": ["a"]}}),
                          param="response_format", contains="'a' is not in properties")
        tools = lambda c, t=TOOLS: {"messages": QUESTION, "tools": t, "tool_choice": c}
        self.assert_error({"messages": QUESTION, "tool_choice": "required"}, param="tool_choice")
        self.assert_error(tools({"type": "function", "function": {"name": "mul"}}),
                          param="tool_choice", contains="'mul'")
        self.assert_error(tools({"type": "function"}), param="tool_choice")
        self.assert_error(tools("sometimes"), param="tool_choice")
        bad_tool = [{"type": "function", "function": {
            "name": "f", "parameters": {"type": "object",
                                        "properties": {"n": {"type": "integer", "maximum": 9}}}}}]
        self.assert_error(tools("required", bad_tool), param="tools", contains="maximum")
        self.assert_error(dict(tools("auto"), response_format={"type": "json_object"}),
                          param="response_format")
        # with "auto" such tools are shown, and calls left unconstrained
        st, _, b = self.post("/v1/chat/completions", dict(tools("auto", bad_tool), temperature=0))
        self.assertEqual(st, 200, b)
        st, _, b = self.post("/v1/chat/completions", {"messages": QUESTION, "temperature": 0})
        self.assertEqual(b["choices"][0]["message"]["content"], "17 + 25 = 42.")

    # --- concurrency -----------------------------------------------------
    def test_concurrent_streams_match_solo(self):
        questions = ["What is %d plus %d?" % (10 + i, 30 + 2 * i) for i in range(8)]
        body = lambda q: {"messages": chat(q), "temperature": 0, "stream": True, "max_tokens": 24}
        solo = ["".join(json.loads(e)["choices"][0]["delta"].get("content", "")
                        for e in self.stream("/v1/chat/completions", body(q))[:-1])
                for q in questions]
        got = [None] * 8

        def run(i):
            ev = self.stream("/v1/chat/completions", body(questions[i]))
            got[i] = "".join(json.loads(e)["choices"][0]["delta"].get("content", "")
                             for e in ev[:-1])
        threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        self.assertEqual(got, solo)
        self.assertTrue(all(solo))

    def test_64_connections(self):
        statuses = [None] * 64

        def run(i):
            try:
                st, r, b = self.post("/v1/chat/completions",
                                     {"messages": chat("What is %d plus 3?" % i), "temperature": 0})
                if st == 503:
                    assert r.getheader("Retry-After") and "error" in b
                else:
                    assert b["choices"][0]["message"]["content"]
                statuses[i] = st
            except Exception as e:  # noqa: BLE001 - recorded, then asserted
                statuses[i] = repr(e)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(64)]
        for t in threads: t.start()
        for t in threads: t.join()
        self.assertTrue(all(s in (200, 503) for s in statuses), statuses)
        self.assertGreaterEqual(statuses.count(200), 8)
        self.assertEqual(self.post("/v1/chat/completions", {"messages": QUESTION})[0], 200)

    # --- hostile input ---------------------------------------------------
    def assert_error(self, body, status=400, raw=None, param=None, contains=None):
        st, _, b = self.post("/v1/chat/completions", body, raw=raw)
        self.assertEqual(st, status, b)
        self.assertEqual(set(b), {"error"})
        self.assertEqual(set(b["error"]), {"message", "type", "param", "code"})
        if param: self.assertEqual(b["error"]["param"], param)
        if contains: self.assertIn(contains, b["error"]["message"])
        return b["error"]

    def test_bad_requests(self):
        self.assert_error(None, raw="{\"messages\": [", contains="not valid JSON")
        self.assert_error(None, raw="[1, 2]", contains="JSON object")
        self.assert_error(None, raw="", contains="not valid JSON")
        self.assert_error({"messages": "hi"}, param="messages")
        self.assert_error({"messages": []}, param="messages")
        self.assert_error({"messages": [{"role": "wizard", "content": "x"}]}, param="messages")
        self.assert_error({"messages": [{"role": "user", "content": 5}]}, param="messages")
        self.assert_error({"messages": QUESTION, "temperature": "hot"}, param="temperature")
        self.assert_error({"messages": QUESTION, "temperature": 7}, param="temperature")
        self.assert_error({"messages": QUESTION, "max_tokens": -1}, param="max_tokens")
        self.assert_error({"messages": QUESTION, "max_tokens": 2.5}, param="max_tokens")
        self.assert_error({"messages": QUESTION, "stream": "yes"}, param="stream")
        self.assert_error({"messages": QUESTION, "stop": [1]}, param="stop")
        self.assert_error({"messages": QUESTION, "n": 2}, param="n")
        self.assert_error({"messages": QUESTION, "stream_options": {"include_usage": True}},
                          param="stream_options")
        self.assert_error({"messages": QUESTION, "frobnicate": 1}, contains="unknown field")
        self.assert_error({"messages": [{"role": "user", "content": "x", "mood": 1}]},
                          contains="unknown field")
        e = self.assert_error({"messages": chat("hello " * 9000)}, param="messages")
        self.assertEqual(e["code"], "context_length_exceeded")
        st, _, b = self.post("/v1/completions", {"prompt": 42})
        self.assertEqual(st, 400)
        self.assertEqual(self.post("/tokenize", {"content": 1})[0], 400)
        self.assertEqual(self.post("/tokenize", {"content": "x", "extra": 1})[0], 400)
        # still serving
        self.assertEqual(self.post("/v1/chat/completions", {"messages": QUESTION})[0], 200)

    def read_answer(self, s, timeout):
        s.settimeout(timeout)
        data = b""
        try:
            while True:
                d = s.recv(65536)
                if not d: break
                data += d
        except (socket.timeout, ConnectionError):
            pass
        return data

    def test_huge_body(self):
        # a declared 100 MB body: 413 from the headers, before the body comes
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
        self.assertTrue(select.select([s], [], [], 10)[0])
        self.assertTrue(s.recv(65536).startswith(b"HTTP/1.1 413"))
        try:  # the client sends its 100 MB regardless: the server has closed
            for _ in range(100):
                s.sendall(b" " * 1_000_000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.close()
        # a chunked body (no length) that grows past the limit: read, dropped, 413
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            s.sendall(b"80000\r\n" + b" " * 0x80000 + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        data = self.read_answer(s, 10)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:100])
        self.assertEqual(self.srv.request("GET", "/health")[0], 200)

    def test_slow_headers(self):
        # one byte a second: the connection is closed at the read deadline (3 s)
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        start = time.time()
        data = b""
        for byte in b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n":
            try:
                s.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            r, _, _ = select.select([s], [], [], 1.0)
            if r:
                data = self.read_answer(s, 2)
                break
        took = time.time() - start
        s.close()
        self.assertLess(took, 8)
        self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:80])
        self.assertEqual(self.srv.request("GET", "/health")[0], 200)

    def metric(self, name):
        text = self.srv.request("GET", "/metrics")[2]
        return float(re.search(r"^%s (\S+)$" % re.escape(name), text, re.M).group(1))

    def test_disconnect_mid_stream(self):
        before = self.metric("lfm2moe_generated_tokens_total")
        bias = {str(t): -100 for t in self.special_ids()}
        body = json.dumps({"prompt": "17 + 25 =", "max_tokens": 8000, "temperature": 0,
                           "stream": True, "logit_bias": bias}).encode()
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body)
        got = b""
        while got.count(b"data: ") < 3:  # generating: the role chunk and two pieces
            got += s.recv(4096)
        s.close()
        # the slot is freed at once, long before 8000 tokens
        deadline = time.time() + 2
        while self.metric("lfm2moe_slots_busy") > 0:
            self.assertLess(time.time(), deadline, "the slot was not freed")
            time.sleep(0.05)
        self.assertLess(self.metric("lfm2moe_generated_tokens_total") - before, 7000)
        self.assertEqual(self.post("/v1/chat/completions", {"messages": QUESTION})[0], 200)

    def test_disconnect_while_waiting(self):
        # a client waiting for a whole (non-streamed) answer leaves: same
        before = self.metric("lfm2moe_generated_tokens_total")
        bias = {str(t): -100 for t in self.special_ids()}
        body = json.dumps({"prompt": "17 + 25 =", "max_tokens": 8000, "temperature": 0,
                           "logit_bias": bias}).encode()
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body)
        deadline = time.time() + 5
        while self.metric("lfm2moe_slots_busy") == 0:  # generating
            self.assertLess(time.time(), deadline)
            time.sleep(0.02)
        s.close()
        deadline = time.time() + 2
        while self.metric("lfm2moe_slots_busy") > 0:
            self.assertLess(time.time(), deadline, "the slot was not freed")
            time.sleep(0.05)
        self.assertLess(self.metric("lfm2moe_generated_tokens_total") - before, 7000)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_finishes_running_streams(self):
        srv = Server("--parallel", "1", "--threads", "1", "--ctx", "4096", "--grace", "120")
        try:
            ids = []
            for t in ("<|im_end|>", "<|endoftext|>"):
                b = srv.request("POST", "/tokenize", {"content": t})[2]
                ids += b["tokens"] if len(b["tokens"]) == 1 else []
            c = srv.conn()
            c.request("POST", "/v1/completions", body=json.dumps(
                {"prompt": "17 + 25 =", "max_tokens": 600, "temperature": 0, "stream": True,
                 "logit_bias": {str(t): -100 for t in ids}}))
            r = c.getresponse()
            first = r.readline()  # the first event is out: the generation runs
            self.assertTrue(first.startswith(b"data: "))
            srv.proc.send_signal(signal.SIGTERM)
            deadline = time.time() + 10
            while True:  # new connections are refused while the stream goes on
                try:
                    socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
                except (ConnectionRefusedError, ConnectionResetError):  # the listener closing
                    break
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            ev = sse_events((first + r.read()).decode())
            c.close()
            self.assertEqual(ev[-1], "[DONE]")
            self.assertEqual(json.loads(ev[-2])["choices"][0]["finish_reason"], "length")
        finally:
            rc, log = srv.stop()
        self.assertEqual(rc, 0, log)
        self.assertNotIn("Sanitizer", log)


class ApiKeyTest(unittest.TestCase):
    def test_api_key(self):
        srv = Server("--api-key", "s3cret", "--parallel", "1", "--threads", "1")
        try:
            self.assertEqual(srv.request("GET", "/health")[0], 200)
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"},
                            {"Authorization": "Bearer s3cre"}, {"Authorization": "Bearer s3cret2"}):
                st, r, b = srv.request("GET", "/v1/models", headers=headers)
                self.assertEqual(st, 401, headers)
                self.assertEqual(b["error"]["code"], "invalid_api_key")
                st, _, _ = srv.request("POST", "/v1/chat/completions", {"messages": QUESTION},
                                       headers=headers)
                self.assertEqual(st, 401)
            ok = {"Authorization": "Bearer s3cret"}
            self.assertEqual(srv.request("GET", "/v1/models", headers=ok)[0], 200)
            st, _, b = srv.request("POST", "/v1/chat/completions",
                                   {"messages": QUESTION, "temperature": 0}, headers=ok)
            self.assertEqual(b["choices"][0]["message"]["content"], "17 + 25 = 42.")
        finally:
            rc, log = srv.stop()
        self.assertEqual(rc, 0, log)
        self.assertNotIn("Sanitizer", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
