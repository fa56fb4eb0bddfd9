"""Session: the conversation state on a Model (decode, logits, generation,
history: rewind, snapshots, copies)."""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import byref, c_float, c_int32, c_size_t, c_void_p
from typing import Any, Dict, List, Optional, Sequence, Union

from . import _native as N
from ._handle import _Handle
from ._util import token_array as _token_array
from .aio import AsyncGeneration
from .errors import check
from .generation import Generation, GenerationResult
from .model import Model
from .structured import Grammar

try:  # Session.logits is a numpy array when numpy is there, else a memoryview
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the environment
    _np = None


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
