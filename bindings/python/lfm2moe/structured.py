"""Structured output: Grammar (GBNF, JSON Schema, tools) and the tool-call
parser."""

from __future__ import annotations

import json
from ctypes import byref, c_char_p, c_size_t, c_void_p
from typing import Dict, List, Sequence, Union

from . import _native as N
from ._handle import _Handle, _grow
from ._util import to_bytes as _to_bytes
from .errors import check
from .model import Model


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
