"""Streaming generation: lfm2moe_generate on a worker thread, its pieces
handed to an iterator through a queue."""

from __future__ import annotations

import ctypes
import queue
import threading
from ctypes import byref, c_char_p, c_float, c_int32
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from . import _native as N
from ._util import to_bytes as _to_bytes, token_array as _token_array
from .errors import check, error_for

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session

_SAMPLING_KEYS = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty",
                  "frequency_penalty", "presence_penalty", "penalty_last_n", "seed")


@dataclass(frozen=True)
class GenerationResult:
    """How a generation ended: stop reason, token counts and timings."""

    stop_reason: str  # "eos", "stop_string", "max_tokens", "callback", "context_full", "cancelled"
    n_prompt_tokens: int  # prompt tokens evaluated
    n_generated: int
    prompt_seconds: float
    generate_seconds: float
    n_prompt_reused: int = 0  # prompt tokens kept from the session (reuse_prefix)
    n_reasoning: int = 0  # of n_generated: reasoning tokens (between <think> and </think>)


class _GenState:
    """What the worker thread and the C callback touch.  Kept apart from the
    Generation object so that dropping the iterator can cancel the run."""

    def __init__(self):
        self.queue = queue.Queue()
        self.stop = False
        self.thread = None
        self.tokens = []


_DONE = object()


class _Part(tuple):
    """(part name, bytes) from the part callback, queued beside the pieces."""


def _run_generate(state, session, prompt, n_prompt, params):
    # The worker holds the session (and so the model) strongly: neither can
    # be collected and freed while the C code runs on it.
    result = N.GenerateResult()
    result.struct_size = ctypes.sizeof(result)
    try:
        st = N.lfm2moe_generate(session._ptr, prompt, n_prompt, byref(params), byref(result))
        # last_error is per thread: read it here, on the failing thread.
        err = error_for(st, "lfm2moe_generate") if st != N.OK else None
    except BaseException as e:  # pragma: no cover - ctypes-level failure
        err = e
    finally:
        session._gen = None
        session._busy.release()
        session = None
    if err is not None:
        state.queue.put(err)
    else:
        state.queue.put(GenerationResult(N.STOP_REASONS.get(result.stop_reason, "unknown"),
                                         result.n_prompt_tokens, result.n_generated,
                                         result.prompt_seconds, result.generate_seconds,
                                         result.n_prompt_reused, result.n_reasoning))
    state.queue.put(_DONE)


class Generation:
    """Streaming iterator of generated text pieces (str, whole UTF-8
    characters).  After the iteration ends `.result` holds the
    GenerationResult.  close() (or dropping the iterator) stops the run.

    Reasoning models (a vocabulary with <think> and </think>): the pieces
    are the whole text, tags included; parts() streams ("reasoning" |
    "answer", text) pairs instead, without the tags, and .reasoning /
    .answer give each part's text."""

    def __init__(self, session: "Session", ids: Sequence[int], max_tokens: int,
                 stop: Sequence[Union[str, bytes]], logit_bias: Optional[Dict[int, float]],
                 sampling: Dict[str, Any], flags: int = 0, grammar=None,
                 reasoning_budget: Optional[int] = None):
        unknown = set(sampling) - set(_SAMPLING_KEYS)
        if unknown:
            raise TypeError("unknown sampling arguments: %s" % ", ".join(sorted(unknown)))
        N.require(N.lfm2moe_generate, "lfm2moe_generate")
        self.result: Optional[GenerationResult] = None
        self._pieces: List[str] = []
        self._parts: List[Tuple[str, str]] = []
        self._parts_taken = 0  # of _parts, handed out by parts()
        self._tool_calls: Optional[List[Dict[str, object]]] = None
        self._state = state = _GenState()
        self._tokens = state.tokens
        params = N.GenerateParams()
        check(N.require(N.lfm2moe_generate_params_init, "lfm2moe_generate_params_init")(
            byref(params)), "lfm2moe_generate_params_init")
        params.max_tokens = max_tokens
        params.flags = flags
        if reasoning_budget is not None:
            if reasoning_budget < 0:
                raise ValueError("reasoning_budget must be >= 0 (None: no limit)")
            params.reasoning_budget = reasoning_budget
        for k, v in sampling.items():
            if v is not None:
                setattr(params.sampling, k, v)
        # Everything the C side points to must live as long as the run.
        keep = []
        if grammar is not None:  # a structured.Grammar
            if grammar._model is not session._model:
                raise ValueError("the grammar was made for another model")
            params.sampling.grammar = grammar._h
            keep.append(grammar)
        if logit_bias:
            toks = (c_int32 * len(logit_bias))(*logit_bias.keys())
            vals = (c_float * len(logit_bias))(*logit_bias.values())
            params.sampling.logit_bias_tokens = toks
            params.sampling.logit_bias_values = vals
            params.sampling.n_logit_bias = len(logit_bias)
            keep += [toks, vals]
        stops = [_to_bytes(s) for s in stop]
        if stops:
            arr = (c_char_p * len(stops))(*stops)
            params.stop_strings = arr
            params.n_stop_strings = len(stops)
            keep += [arr, stops]

        def on_piece(_user, piece, length, token):
            # Never let an exception unwind into C.
            try:
                if state.stop:
                    return 1
                state.tokens.append(token)
                state.queue.put(ctypes.string_at(piece, length) if length else b"")
                return 0
            except BaseException:
                return 1

        def on_part(_user, part, piece, length, token):
            try:
                if state.stop:
                    return 1
                state.queue.put(_Part((N.PARTS.get(part, "answer"),
                                       ctypes.string_at(piece, length) if length else b"")))
                return 0
            except BaseException:
                return 1

        cb = N.STREAM_FN(on_piece)
        params.callback = cb
        part_cb = N.PART_STREAM_FN(on_part)
        params.part_callback = part_cb
        prompt, n = _token_array(ids)
        keep += [cb, part_cb, params, prompt]
        state.keep = keep  # the CFUNCTYPE object must not be collected mid-run

        state.thread = threading.Thread(
            target=_run_generate, name="lfm2moe-generate", daemon=True,
            args=(state, session, prompt, n, params))
        session._acquire()
        session._gen = state
        self._session = session  # keeps the session (and model) alive while running
        try:
            state.thread.start()
        except BaseException:
            session._gen = None
            session._busy.release()
            raise

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        while True:
            item = self._next_item()
            if isinstance(item, str):
                return item

    def _next_item(self) -> Union[str, Tuple[str, str]]:
        """The next piece (str) or part (tuple), each also recorded."""
        state = self._state
        if state is None:
            raise StopIteration
        while True:
            item = state.queue.get()
            if item is _DONE:
                state.thread.join()
                self._state = None
                self._session = None
                raise StopIteration
            if isinstance(item, _Part):
                part = (item[0], item[1].decode("utf-8", "replace"))
                self._parts.append(part)
                return part
            if isinstance(item, bytes):
                text = item.decode("utf-8", "replace")
                self._pieces.append(text)
                return text
            if isinstance(item, GenerationResult):
                self.result = item
                continue
            # An error from the worker thread.
            state.thread.join()
            self._state = None
            self._session = None
            raise item

    @property
    def tokens(self) -> List[int]:
        """Token attached to each piece streamed so far (the last token that
        contributed to it)."""
        return list(self._tokens)

    def text(self) -> str:
        """Run to the end and return all the text (including pieces already
        taken by iteration)."""
        for _ in self:
            pass
        return "".join(self._pieces)

    def parts(self) -> Iterator[Tuple[str, str]]:
        """Stream ("reasoning" | "answer", text) pairs (the <think> tags left
        out); the pieces met meanwhile still count for text()."""
        while True:
            while self._parts_taken < len(self._parts):
                self._parts_taken += 1
                yield self._parts[self._parts_taken - 1]
            try:
                self._next_item()
            except StopIteration:
                if self._parts_taken == len(self._parts):
                    return

    def _part_text(self, name: str) -> str:
        self.text()
        return "".join(t for p, t in self._parts if p == name)

    @property
    def reasoning(self) -> str:
        """The reasoning text (runs the generation to its end first)."""
        return self._part_text("reasoning")

    @property
    def answer(self) -> str:
        """The answer: the text without the reasoning and its tags (runs the
        generation to its end first)."""
        return self._part_text("answer")

    @property
    def tool_calls(self) -> List[Dict[str, object]]:
        """The tool calls in the answer, [{"name": ..., "arguments": {...}}]
        (runs the generation to its end first)."""
        if self._tool_calls is None:
            from .structured import parse_tool_calls
            self._tool_calls = parse_tool_calls(self.answer)
        return self._tool_calls

    def close(self) -> None:
        """Stop the generation (if still running) and wait for its thread."""
        state = self._state
        if state is None:
            return
        state.stop = True
        s = self._session
        if s is not None and s._ptr:
            N.lfm2moe_session_cancel(s._ptr)
        state.thread.join()
        # Drain to pick up the result.
        while True:
            item = state.queue.get()
            if item is _DONE:
                break
            if isinstance(item, GenerationResult):
                self.result = item
        self._state = None
        self._session = None

    def __enter__(self) -> "Generation":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
