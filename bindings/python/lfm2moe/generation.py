"""Streaming generation: lfm2moe_generate on a worker thread, its pieces
handed to an iterator through a queue."""

from __future__ import annotations

import ctypes
import queue
import threading
from ctypes import byref, c_char_p, c_float, c_int32
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Union

from . import _native as N
from ._util import to_bytes as _to_bytes, token_array as _token_array
from .errors import check, error_for

if TYPE_CHECKING:  # pragma: no cover
    from .core import Session

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


class _GenState:
    """What the worker thread and the C callback touch.  Kept apart from the
    Generation object so that dropping the iterator can cancel the run."""

    def __init__(self):
        self.queue = queue.Queue()
        self.stop = False
        self.thread = None
        self.tokens = []


_DONE = object()


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
                                         result.n_prompt_reused))
    state.queue.put(_DONE)


class Generation:
    """Streaming iterator of generated text pieces (str, whole UTF-8
    characters).  After the iteration ends `.result` holds the
    GenerationResult.  close() (or dropping the iterator) stops the run."""

    def __init__(self, session: "Session", ids: Sequence[int], max_tokens: int,
                 stop: Sequence[Union[str, bytes]], logit_bias: Optional[Dict[int, float]],
                 sampling: Dict[str, Any], flags: int = 0):
        unknown = set(sampling) - set(_SAMPLING_KEYS)
        if unknown:
            raise TypeError("unknown sampling arguments: %s" % ", ".join(sorted(unknown)))
        N.require(N.lfm2moe_generate, "lfm2moe_generate")
        self.result: Optional[GenerationResult] = None
        self._pieces: List[str] = []
        self._state = state = _GenState()
        self._tokens = state.tokens
        params = N.GenerateParams()
        check(N.require(N.lfm2moe_generate_params_init, "lfm2moe_generate_params_init")(
            byref(params)), "lfm2moe_generate_params_init")
        params.max_tokens = max_tokens
        params.flags = flags
        for k, v in sampling.items():
            if v is not None:
                setattr(params.sampling, k, v)
        # Everything the C side points to must live as long as the run.
        keep = []
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

        cb = N.STREAM_FN(on_piece)
        params.callback = cb
        prompt, n = _token_array(ids)
        keep += [cb, params, prompt]
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
