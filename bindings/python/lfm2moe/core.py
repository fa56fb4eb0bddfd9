"""Model, Session and streaming generation over the C API."""

from __future__ import annotations

import ctypes
import json
import os
import threading
import weakref
from ctypes import byref, c_char_p, c_float, c_int32, c_size_t, c_uint32, c_uint64, c_void_p
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Optional, Sequence, TypeVar, Union

from . import _native as N
from ._util import to_bytes as _to_bytes, token_array as _token_array
from .aio import AsyncGeneration
from .generation import Generation, GenerationResult
from .errors import ClosedError, Error, check, error_for

try:  # Session.logits is a numpy array when numpy is there, else a memoryview
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the environment
    _np = None


def _grow(call, first_size: int) -> bytes:
    """The library's buffer protocol: call(buf, size, &needed) returns
    BUFFER_TOO_SMALL with the needed size stored; retry once with that."""
    size = max(first_size, 1)
    for _ in range(3):
        buf = ctypes.create_string_buffer(size)
        needed = c_size_t(0)
        st = call(buf, size, byref(needed))
        if st == N.OK:
            return buf.raw[:needed.value]
        if st != N.ERR_BUFFER_TOO_SMALL:
            raise error_for(st)
        size = needed.value + 1
    raise Error("buffer size kept changing", status=N.ERR_INTERNAL)


@dataclass(frozen=True)
class ModelInfo:
    """Shape of a model (lfm2moe_model_info) and its architecture name."""

    n_vocab: int
    n_embd: int
    n_block: int
    n_ctx_train: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ff: int
    n_expert: int
    n_expert_used: int
    n_ff_expert: int
    n_dense_block: int
    conv_l_cache: int
    n_attention_block: int
    rope_freq_base: float
    rms_norm_eps: float
    n_params: int
    file_size: int
    n_tensors: int
    sliding_window: int  # positions an attention block sees, 0: all
    architecture: str


@dataclass(frozen=True)
class VocabInfo:
    """Vocabulary size and special token ids (-1 when the model has none)."""

    n_vocab: int
    bos: int
    eos: int
    pad: int
    end_of_turn: int
    add_bos: bool


_H = TypeVar("_H", bound="_Handle")


class _Handle:
    """An owned C pointer freed exactly once: close() is idempotent, __del__
    calls it, and every use of a closed handle raises ClosedError."""

    _free = None  # staticmethod set by subclasses
    _kind = "handle"

    def __init__(self):
        self._ptr = None

    @property
    def _h(self):
        if not self._ptr:
            raise ClosedError("%s is closed" % self._kind)
        return self._ptr

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return not self._ptr

    def _release(self):
        ptr, self._ptr = self._ptr, None
        if ptr:
            type(self)._free(ptr)

    def close(self) -> None:
        """Free the C object now (idempotent)."""
        self._release()

    def __enter__(self: "_H") -> "_H":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self):
        # At interpreter shutdown module globals may already be gone.
        try:
            self.close()
        except Exception:
            pass


class Model(_Handle):
    """A GGUF model.  Immutable once loaded; any number of Sessions may share
    it.  close() first closes every Session still open on it."""

    _free = staticmethod(lambda p: N.lfm2moe_model_free(p))
    _kind = "model"

    def __init__(self, path: Union[str, bytes, "os.PathLike"], *, prefetch: bool = False,
                 mlock: bool = False, _data: Optional[bytes] = None):
        super().__init__()
        self._children = weakref.WeakSet()
        self._data = None
        params = N.ModelParams()
        check(N.lfm2moe_model_params_init(byref(params)), "lfm2moe_model_params_init")
        params.flags = (N.MODEL_PREFETCH if prefetch else 0) | (N.MODEL_MLOCK if mlock else 0)
        out = c_void_p()
        if _data is not None:
            # The library keeps pointing into the buffer: hold it for our lifetime.
            self._data = ctypes.create_string_buffer(_data, len(_data))
            st = N.lfm2moe_model_load_from_memory(self._data, len(_data), byref(params),
                                                  byref(out))
            check(st, "lfm2moe_model_load_from_memory")
        else:
            check(N.lfm2moe_model_load(os.fsencode(path), byref(params), byref(out)),
                  "lfm2moe_model_load")
        self._ptr = out.value
        self._info = None
        self._vocab = None

    @classmethod
    def from_bytes(cls, data: bytes, **kw) -> "Model":
        """Load a GGUF image held in memory (copied once into a buffer the
        model keeps)."""
        return cls(None, _data=bytes(data), **kw)

    def close(self) -> None:
        """Close every Session still open on the model, then free it."""
        # Children before the parent: the C API requires sessions freed first.
        for child in list(self._children):
            child.close()
        self._release()
        self._data = None

    # ---- description --------------------------------------------------
    @property
    def info(self) -> ModelInfo:
        """Shape and size of the model."""
        if self._info is None:
            ci = N.ModelInfo()
            ci.struct_size = ctypes.sizeof(ci)
            check(N.lfm2moe_model_get_info(self._h, byref(ci)), "lfm2moe_model_get_info")
            vals = {f.name: getattr(ci, f.name) for f in fields(ModelInfo)
                    if f.name != "architecture"}
            self._info = ModelInfo(architecture=self.architecture, **vals)
        return self._info

    @property
    def architecture(self) -> str:
        """general.architecture, e.g. "lfm2moe"."""
        name = c_char_p()
        check(N.lfm2moe_model_architecture(self._h, byref(name)), "lfm2moe_model_architecture")
        return name.value.decode("utf-8", "replace")

    @property
    def vocab(self) -> VocabInfo:
        """Vocabulary size and special tokens."""
        if self._vocab is None:
            vi = N.VocabInfo()
            vi.struct_size = ctypes.sizeof(vi)
            check(N.lfm2moe_vocab_get_info(self._h, byref(vi)), "lfm2moe_vocab_get_info")
            self._vocab = VocabInfo(vi.n_vocab, vi.bos, vi.eos, vi.pad, vi.end_of_turn,
                                    bool(vi.add_bos))
        return self._vocab

    def metadata_keys(self) -> List[str]:
        """Every GGUF metadata key, in file order."""
        n = c_uint64()
        check(N.lfm2moe_model_meta_count(self._h, byref(n)), "lfm2moe_model_meta_count")
        keys = []
        for i in range(n.value):
            k = c_char_p()
            check(N.lfm2moe_model_meta_key(self._h, i, byref(k)), "lfm2moe_model_meta_key")
            keys.append(k.value.decode("utf-8", "replace"))
        return keys

    def metadata(self, key: str) -> str:
        """A metadata value rendered as text (NotFoundError if absent)."""
        h, k = self._h, _to_bytes(key)
        # meta_string NUL-terminates, so the buffer needs needed + 1 bytes.
        raw = _grow(lambda buf, size, needed: N.lfm2moe_model_meta_string(h, k, buf, size, needed),
                    256)
        return raw.decode("utf-8", "replace")

    # ---- tokens --------------------------------------------------------
    def tokenize(self, text: Union[str, bytes], add_bos: bool = True,
                 parse_special: bool = False) -> List[int]:
        """Token ids of text; parse_special turns "<|im_start|>" etc. into
        their special tokens."""
        data = _to_bytes(text)
        flags = (N.TOKENIZE_ADD_BOS if add_bos else 0) | \
                (N.TOKENIZE_PARSE_SPECIAL if parse_special else 0)
        # Byte-level BPE: at most one token per byte, plus BOS.
        cap = len(data) + 2
        for _ in range(2):
            buf = (c_int32 * cap)()
            n = c_size_t()
            st = N.lfm2moe_tokenize(self._h, data, len(data), flags, buf, cap, byref(n))
            if st == N.OK:
                return buf[:n.value]
            if st != N.ERR_BUFFER_TOO_SMALL:
                raise error_for(st, "lfm2moe_tokenize")
            cap = n.value
        raise Error("token count kept changing", status=N.ERR_INTERNAL)

    def detokenize_bytes(self, ids: Sequence[int]) -> bytes:
        """Raw bytes of token ids (may end inside a UTF-8 character)."""
        arr, n = _token_array(ids)
        h = self._h
        try:
            return _grow(lambda buf, size, ln: N.lfm2moe_detokenize(h, arr, n, buf, size, ln),
                         8 * n + 16)
        except Error as e:
            e.function = "lfm2moe_detokenize"
            raise

    def detokenize(self, ids: Sequence[int], errors: str = "replace") -> str:
        """Text of token ids; invalid UTF-8 (e.g. a split character) is
        replaced unless errors='strict'.  detokenize_bytes() gives raw bytes."""
        return self.detokenize_bytes(ids).decode("utf-8", errors)

    def token_to_bytes(self, token: int) -> bytes:
        """Bytes of one token."""
        h = self._h
        return _grow(lambda buf, size, ln: N.lfm2moe_token_to_bytes(h, token, buf, size, ln), 64)

    def token_lookup(self, text: Union[str, bytes]) -> int:
        """Id of the token whose text is exactly `text` (NotFoundError if none)."""
        data = _to_bytes(text)
        tok = c_int32()
        check(N.lfm2moe_token_lookup(self._h, data, len(data), byref(tok)),
              "lfm2moe_token_lookup")
        return tok.value

    def token_attr(self, token: int) -> int:
        """LFM2MOE_TOKEN_ATTR_* bits of a token."""
        attr = c_uint32()
        check(N.lfm2moe_token_attr(self._h, token, byref(attr)), "lfm2moe_token_attr")
        return attr.value

    # ---- chat ------------------------------------------------------------
    def apply_chat_template(self, messages: Sequence[Dict[str, object]],
                            tools: Optional[Sequence[Union[dict, str]]] = None,
                            add_generation_prompt: bool = True,
                            chat_template: Optional[str] = None, **variables) -> str:
        """Render a conversation the way Hugging Face's apply_chat_template
        does, with the model's own Jinja chat template (or `chat_template`,
        a template string that overrides it).  Messages are dicts as the
        template expects them (role, content as a string or a list of
        parts, tool_calls, thinking, ...); tools are dicts or JSON strings;
        every keyword variable (enable_thinking=..., preserve_thinking=...)
        is a template variable."""
        request = dict(variables)
        request["messages"] = list(messages)
        if tools is not None:
            request["tools"] = list(tools)
        request["add_generation_prompt"] = bool(add_generation_prompt)
        req = json.dumps(request, ensure_ascii=False).encode("utf-8")
        h = self._h
        size = len(req) + 256
        if chat_template is None:
            fn = "lfm2moe_chat_render_json"
            call = lambda buf, sz, ln: N.lfm2moe_chat_render_json(h, req, len(req), 0, buf, sz, ln)
        else:
            fn = "lfm2moe_chat_render_template"
            tmpl = _to_bytes(chat_template)
            call = lambda buf, sz, ln: N.lfm2moe_chat_render_template(
                h, tmpl, len(tmpl), req, len(req), 0, buf, sz, ln)
        try:
            raw = _grow(call, size)
        except Error as e:
            e.function = fn
            raise
        return raw.decode("utf-8", "replace")

    def session(self, **kw: Any) -> "Session":
        """A new Session on this model (keywords as for Session)."""
        return Session(self, **kw)


def parse_tool_calls(text: Union[str, bytes]) -> List[Dict[str, object]]:
    """Tool calls in generated text: [{"name": ..., "arguments": {...}}]."""
    data = _to_bytes(text)
    out = c_void_p()
    check(N.lfm2moe_tool_calls_parse(data, len(data), byref(out)), "lfm2moe_tool_calls_parse")
    try:
        n = c_size_t()
        check(N.lfm2moe_tool_calls_count(out, byref(n)), "lfm2moe_tool_calls_count")
        calls = []
        for i in range(n.value):
            name, args = c_char_p(), c_char_p()
            check(N.lfm2moe_tool_calls_get(out, i, byref(name), byref(args)),
                  "lfm2moe_tool_calls_get")
            calls.append({"name": name.value.decode("utf-8"),
                          "arguments": json.loads(args.value.decode("utf-8"))})
        return calls
    finally:
        N.lfm2moe_tool_calls_free(out)


class Grammar(_Handle):
    """A compiled grammar constraining generation (immutable; may be shared
    by several generations).  Keeps its Model alive.

        Grammar(model, 'root ::= "yes" | "no"')          # GBNF
        Grammar.from_json_schema(model, {"type": "object", ...})
        Grammar.from_tools(model, tools, tool_choice="required")
    """

    _free = staticmethod(lambda p: N.lfm2moe_grammar_free(p))
    _kind = "grammar"

    def __init__(self, model: Model, gbnf: Union[str, bytes, None] = None, root: str = "root",
                 _make=None):
        super().__init__()
        self._model = model
        out = c_void_p()
        if _make is not None:
            _make(out)
        else:
            data = _to_bytes(gbnf)
            check(N.require(N.lfm2moe_grammar_create, "lfm2moe_grammar_create")(
                model._h, data, len(data), root.encode("utf-8"), byref(out)),
                "lfm2moe_grammar_create")
        self._ptr = out.value
        model._children.add(self)  # freed before the model

    @classmethod
    def from_json_schema(cls, model: Model, schema: Union[dict, str, bytes]) -> "Grammar":
        """JSON texts valid under a JSON Schema (a dict or its JSON text)."""
        data = _to_bytes(schema if isinstance(schema, (str, bytes, bytearray))
                         else json.dumps(schema))
        fn = N.require(N.lfm2moe_grammar_from_json_schema, "lfm2moe_grammar_from_json_schema")
        return cls(model, _make=lambda out: check(
            fn(model._h, data, len(data), byref(out)), "lfm2moe_grammar_from_json_schema"))

    @classmethod
    def from_tools(cls, model: Model, tools: Sequence[Union[dict, str]],
                   tool_choice: str = "auto") -> "Grammar":
        """LFM2 tool calls to these tools (the list given to the chat
        template); tool_choice "auto", "required" or "none"."""
        if tool_choice not in N.TOOL_CHOICES:
            raise ValueError("tool_choice must be auto, required or none, not %r" % (tool_choice,))
        texts = [_to_bytes(t if isinstance(t, (str, bytes, bytearray)) else json.dumps(t))
                 for t in tools]
        arr = (c_char_p * max(len(texts), 1))(*texts)
        fn = N.require(N.lfm2moe_grammar_from_tools, "lfm2moe_grammar_from_tools")
        return cls(model, _make=lambda out: check(
            fn(model._h, arr, len(texts), N.TOOL_CHOICES[tool_choice], byref(out)),
            "lfm2moe_grammar_from_tools"))

    @property
    def gbnf(self) -> str:
        """The grammar's GBNF text (written by the library for schemas and tools)."""
        h = self._h
        return _grow(lambda b, n, need: N.lfm2moe_grammar_gbnf(h, b, n, need), 4096).decode("utf-8")


KV_TYPES = {"f32": 0, "f16": 1, "q8_0": 2}  # lfm2moe_kv_type


class Session(_Handle):
    """A conversation state (KV cache, conv state, thread pool) on a Model.
    Keeps its Model alive.  One thread at a time, except cancel().

    kv_type: element type of the KV cache, "f32" (default, exact), "f16"
    (half the memory, logits within ~0.05) or "q8_0" (about a quarter,
    within ~0.07 relative RMS)."""

    _free = staticmethod(lambda p: N.lfm2moe_session_free(p))
    _kind = "session"

    def __init__(self, model: Model, n_ctx: int = 0, threads: int = 0, n_batch: int = 0,
                 max_memory: int = 0, kv_type: str = "f32", checkpoint_interval: int = 0, *,
                 _copy_of=None):
        if kv_type not in KV_TYPES:
            raise ValueError("kv_type must be one of %s" % ", ".join(sorted(KV_TYPES)))
        super().__init__()
        self._gen = None  # the running generation's state, if any
        self._model = model  # the C model must outlive the session
        self.last_result: Optional[GenerationResult] = None  # of the last chat()
        params = N.SessionParams()
        check(N.lfm2moe_session_params_init(byref(params)), "lfm2moe_session_params_init")
        params.n_ctx, params.n_threads, params.n_batch = n_ctx, threads, n_batch
        params.max_memory = max_memory
        params.kv_type = KV_TYPES[kv_type]
        params.checkpoint_interval = checkpoint_interval
        self._kv_type = kv_type
        out = c_void_p()
        if _copy_of is not None:  # copy(): the source's handle and kv type
            src, same, self._kv_type = _copy_of
            fn = N.require(N.lfm2moe_session_copy, "lfm2moe_session_copy")
            check(fn(src, None if same else byref(params), byref(out)), "lfm2moe_session_copy")
        else:
            check(N.lfm2moe_session_create(model._h, byref(params), byref(out)),
                  "lfm2moe_session_create")
        self._ptr = out.value
        self._busy = threading.Lock()
        self._n_vocab = model.info.n_vocab
        model._children.add(self)

    @property
    def model(self) -> Model:
        """The Model this session runs."""
        return self._model

    @property
    def kv_type(self) -> str:
        """Element type of the KV cache: "f32", "f16" or "q8_0"."""
        return self._kv_type

    def close(self) -> None:
        """Stop a running generation, then free the session (idempotent)."""
        g = self._gen
        if g is not None and self._ptr:
            # Stop a generation still running on a background thread first
            # (from that thread itself, e.g. a collection there, just leak).
            g.stop = True
            N.lfm2moe_session_cancel(self._ptr)
            if g.thread is threading.current_thread():
                return
            g.thread.join()
        self._release()

    def _acquire(self):
        h = self._h
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("session is busy: a generation is running on it")
        return h

    @property
    def position(self) -> int:
        """Tokens held by the session so far."""
        pos = c_int32()
        check(N.lfm2moe_session_position(self._h, byref(pos)), "lfm2moe_session_position")
        return pos.value

    @property
    def n_ctx(self) -> int:
        """Tokens the session can hold."""
        n = c_int32()
        check(N.lfm2moe_session_context_length(self._h, byref(n)),
              "lfm2moe_session_context_length")
        return n.value

    def reset(self) -> None:
        """Forget every token: back to an empty conversation."""
        h = self._acquire()
        try:
            check(N.lfm2moe_session_reset(h), "lfm2moe_session_reset")
        finally:
            self._busy.release()

    def cancel(self) -> None:
        """Ask a running decode/generation to stop (safe from any thread)."""
        check(N.lfm2moe_session_cancel(self._h), "lfm2moe_session_cancel")

    def decode(self, tokens: Sequence[int], all_logits: bool = False) -> None:
        """Append tokens and run the model over them (one batched pass);
        all_logits keeps the logits of every token, not only the last."""
        arr, n = _token_array(tokens)
        h = self._acquire()
        try:
            check(N.lfm2moe_decode_step(h, arr, n, N.DECODE_ALL_LOGITS if all_logits else 0),
                  "lfm2moe_decode_step")
        finally:
            self._busy.release()

    @staticmethod
    def decode_batch(sessions: Sequence["Session"], tokens: Sequence[Sequence[int]]):
        """Decode tokens[i] on sessions[i] for every i in one forward pass
        (lfm2moe_decode_batch): the weights are read once for all of them.
        Afterwards each session's .logits are those of its last token.  All
        or nothing: on any error no session changes."""
        if len(sessions) != len(tokens):
            raise ValueError("decode_batch: %d sessions, %d token lists"
                             % (len(sessions), len(tokens)))
        n = len(sessions)
        arrays = [_token_array(t) for t in tokens]
        ptrs = (ctypes.POINTER(c_int32) * max(n, 1))(
            *[ctypes.cast(a, ctypes.POINTER(c_int32)) for a, _ in arrays])
        counts = (c_int32 * max(n, 1))(*[k for _, k in arrays])
        held = []
        try:
            for s in sessions:
                if s in held:
                    raise ValueError("decode_batch: a session is listed twice")
                s._acquire()
                held.append(s)
            handles = (c_void_p * max(n, 1))(*[s._h for s in sessions])
            check(N.lfm2moe_decode_batch(handles, ptrs, counts, n), "lfm2moe_decode_batch")
        finally:
            for s in held:
                s._busy.release()

    def logits_at(self, index: int = -1) -> Any:
        """n_vocab float32 logits of token `index` of the last decode (-1:
        the last; others need all_logits=True).  A read-only view of the
        session's own buffer, not a copy, valid until the next
        decode/reset/close: a numpy array when numpy is importable, else a
        memoryview of format "f"."""
        ptr = ctypes.POINTER(c_float)()
        check(N.lfm2moe_session_logits(self._h, index, byref(ptr)), "lfm2moe_session_logits")
        if _np is not None:
            view = _np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))
            view.flags.writeable = False
            return view
        arr = (c_float * self._n_vocab).from_address(ctypes.addressof(ptr.contents))
        return memoryview(arr).cast("B").cast("f").toreadonly()

    @property
    def logits(self) -> Any:
        """Logits of the last token of the last decode (see logits_at)."""
        return self.logits_at(-1)

    # ---- generation ------------------------------------------------------
    def _prompt_tokens(self, prompt, add_bos) -> List[int]:
        if prompt is None:
            return []
        if not isinstance(prompt, (str, bytes, bytearray)):
            return list(prompt)
        ids = self._model.tokenize(prompt, add_bos=False, parse_special=True)
        v = self._model.vocab
        if add_bos is None:
            # At the start of a session, unless the text already begins with
            # BOS (e.g. a rendered chat template).
            add_bos = self.position == 0 and v.add_bos
        if add_bos and v.bos >= 0 and (not ids or ids[0] != v.bos):
            ids.insert(0, v.bos)
        return ids

    def generate(self, prompt: Union[str, bytes, Sequence[int], None] = None, *,
                 max_tokens: int = 256, stop: Sequence[Union[str, bytes]] = (),
                 add_bos: Optional[bool] = None, logit_bias: Optional[Dict[int, float]] = None,
                 grammar: Optional[Union[Grammar, str]] = None,
                 json_schema: Optional[Union[dict, str]] = None,
                 tools: Optional[Sequence[Union[dict, str]]] = None,
                 tool_choice: Optional[str] = None, reuse_prefix: bool = False,
                 reasoning_budget: Optional[int] = None, **sampling) -> "Generation":
        """Append the prompt (text with special tokens parsed, or token ids;
        None continues from the current logits) and generate.  Returns an
        iterator of text pieces, produced by lfm2moe_generate on a background
        thread.  Sampling keywords: temperature, top_k, top_p, min_p,
        repeat_penalty, frequency_penalty, presence_penalty, penalty_last_n,
        seed (None or absent: the library default).  reuse_prefix=True: the
        prompt is the whole conversation; the session keeps its common prefix
        with what it holds and evaluates only the rest.

        Structured output (at most one): grammar (a Grammar or GBNF text),
        json_schema (a dict or JSON text), tools (the tool list, with
        tool_choice "auto" (default), "required" or "none"); the
        Generation's .tool_calls parses the calls once it has run.

        Reasoning models (LFM2.5, thinking in <think>...</think>):
        reasoning_budget=N forces </think> after N thinking tokens; the
        Generation's parts() / .reasoning / .answer split the output and
        .result.n_reasoning counts the thinking tokens."""
        if sum(x is not None for x in (grammar, json_schema, tools)) > 1:
            raise ValueError("give at most one of grammar, json_schema, tools")
        if tool_choice is not None and tools is None:
            raise ValueError("tool_choice needs tools")
        g = grammar
        if isinstance(g, (str, bytes, bytearray)):
            g = Grammar(self._model, g)
        elif json_schema is not None:
            g = Grammar.from_json_schema(self._model, json_schema)
        elif tools is not None:
            g = Grammar.from_tools(self._model, tools, tool_choice or "auto")
        if reuse_prefix and add_bos is None:
            add_bos = self._model.vocab.add_bos  # the whole text, from position 0
        ids = self._prompt_tokens(prompt, add_bos)
        return Generation(self, ids, max_tokens, stop, logit_bias, sampling,
                          N.GENERATE_REUSE_PREFIX if reuse_prefix else 0, grammar=g,
                          reasoning_budget=reasoning_budget)

    def agenerate(self, prompt: Union[str, bytes, Sequence[int], None] = None,
                  **kw: Any) -> AsyncGeneration:
        """generate() for asyncio: `async for piece in session.agenerate(...)`
        (same arguments).  The event loop is never blocked by the model."""
        return AsyncGeneration(self.generate(prompt, **kw))

    def chat(self, messages: Sequence[Dict[str, str]],
             tools: Optional[Sequence[Union[dict, str]]] = None, **kw) -> str:
        """Render the whole conversation and return the assistant's reply.
        The session keeps what it shares with the conversation (the earlier
        turns, or everything but an edited last message) and evaluates only
        the rest; `.last_result` reports the counts."""
        text = self._model.apply_chat_template(messages, tools=tools, add_generation_prompt=True)
        ids = self._model.tokenize(text, add_bos=False, parse_special=True)
        kw.setdefault("reuse_prefix", True)
        g = self.generate(ids, **kw)
        out = g.text()
        self.last_result = g.result
        return out

    # ---- history: rewind, snapshots, forks -------------------------------
    def tokens(self) -> List[int]:
        """The tokens the session holds (positions 0 .. position-1)."""
        fn = N.require(N.lfm2moe_session_tokens, "lfm2moe_session_tokens")
        h = self._h
        n = c_size_t()
        fn(h, None, 0, byref(n))  # BUFFER_TOO_SMALL with the count (or OK if empty)
        buf = (c_int32 * max(n.value, 1))()
        check(fn(h, buf, n.value, byref(n)), "lfm2moe_session_tokens")
        return list(buf[:n.value])

    def rewind(self, pos: int) -> None:
        """Go back to position `pos`: afterwards the session is exactly a
        session that decoded only its first `pos` tokens (no logits until
        the next decode)."""
        fn = N.require(N.lfm2moe_session_rewind, "lfm2moe_session_rewind")
        h = self._acquire()
        try:
            check(fn(h, pos), "lfm2moe_session_rewind")
        finally:
            self._busy.release()

    def save(self, path: Union[str, bytes, "os.PathLike", None] = None) -> Optional[bytes]:
        """Snapshot the state: to `path` (replaced only on success), or
        returned as bytes when path is None."""
        h = self._acquire()
        try:
            if path is not None:
                fn = N.require(N.lfm2moe_session_save_file, "lfm2moe_session_save_file")
                check(fn(h, os.fsencode(path)), "lfm2moe_session_save_file")
                return None
            fn = N.require(N.lfm2moe_session_save, "lfm2moe_session_save")
            n = c_size_t()
            check(fn(h, None, 0, byref(n)), "lfm2moe_session_save")
            buf = ctypes.create_string_buffer(max(n.value, 1))
            check(fn(h, buf, n.value, byref(n)), "lfm2moe_session_save")
            return buf.raw[:n.value]
        finally:
            self._busy.release()

    def load(self, data: Union[bytes, bytearray, str, "os.PathLike"]) -> None:
        """Replace the state with a snapshot (bytes from save(), or a path).
        A snapshot of another model, a too-small context or a damaged one
        raises, leaving the session as it was."""
        h = self._acquire()
        try:
            if isinstance(data, (bytes, bytearray, memoryview)):
                fn = N.require(N.lfm2moe_session_load, "lfm2moe_session_load")
                raw = bytes(data)
                check(fn(h, raw, len(raw)), "lfm2moe_session_load")
            else:
                fn = N.require(N.lfm2moe_session_load_file, "lfm2moe_session_load_file")
                check(fn(h, os.fsencode(data)), "lfm2moe_session_load_file")
        finally:
            self._busy.release()

    def copy(self, **params: Any) -> "Session":
        """A new session holding the same state (e.g. to branch a
        conversation).  No keywords: the source's parameters; else the
        keywords of Session() for the copy (kv_type must stay the same)."""
        h = self._acquire()
        try:
            params.setdefault("kv_type", self._kv_type)
            return Session(self._model, _copy_of=(h, len(params) == 1, self._kv_type), **params)
        finally:
            self._busy.release()
