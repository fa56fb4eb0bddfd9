"""Model: a loaded GGUF file (shape, vocabulary, tokenizer, chat template)."""

from __future__ import annotations

import ctypes
import json
import os
import weakref
from ctypes import byref, c_char_p, c_int32, c_size_t, c_uint32, c_uint64, c_void_p
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Union

from . import _native as N
from ._handle import _Handle, _grow
from ._util import to_bytes as _to_bytes, token_array as _token_array
from .errors import Error, check, error_for

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session


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
        from .session import Session  # session.py imports this module
        return Session(self, **kw)
