"""Run Liquid AI LFM2 mixture-of-experts models (GGUF files) on CPUs.

Python bindings (ctypes) over liblfm2moe; the wheel carries the library.

    import lfm2moe
    with lfm2moe.Model("model.gguf") as model, lfm2moe.Session(model) as s:
        print(s.chat([{"role": "user", "content": "Hi"}], max_tokens=64))
        for piece in s.generate("Once upon a time", max_tokens=32):
            print(piece, end="", flush=True)

Main names: Model (a loaded GGUF file, shared by any number of sessions),
Session (the conversation state: decode, logits, generate, chat),
Generation / AsyncGeneration (streams of text pieces from Session.generate
and Session.agenerate), Error and its subclasses (one per status code).

The shared library is the one given by the LFM2MOE_LIBRARY environment
variable (a path to liblfm2moe.so) if set, else the copy installed next to
this package, else the system loader's.  `python3 -m lfm2moe --help` runs a
small command line (generate, chat).
"""

from . import _native
from .aio import AsyncGeneration
from .model import Model, ModelInfo, VocabInfo
from .session import Session
from .structured import Grammar, parse_tool_calls
from .generation import Generation, GenerationResult
from .errors import (BadFormatError, BadModelError, BufferTooSmallError, CancelledError,
                     ClosedError, ContextFullError, Error, InternalError, InvalidArgumentError,
                     IoError, LimitError, NotFoundError, OutOfMemoryError, ParseError,
                     TokenOutOfRangeError, UnsupportedArchError, UnsupportedTemplateError,
                     UnsupportedTypeError)

#: Version of this package: meson's project version, the library's too.
__version__: str = _native.__version__ or _native.version_string()


def library_version() -> str:
    """Version of the liblfm2moe actually loaded, e.g. "0.1.0"."""
    return _native.version_string()


def library_path() -> str:
    """Path of the loaded shared library."""
    return _native.lib._name


__all__ = [
    "Model", "Session", "Generation", "AsyncGeneration", "Grammar", "GenerationResult", "ModelInfo",
    "VocabInfo", "parse_tool_calls", "library_version", "library_path", "Error", "ClosedError",
    "InvalidArgumentError", "OutOfMemoryError", "IoError", "BadFormatError",
    "UnsupportedArchError", "UnsupportedTypeError", "BadModelError", "ContextFullError",
    "TokenOutOfRangeError", "BufferTooSmallError", "NotFoundError", "CancelledError",
    "UnsupportedTemplateError", "ParseError", "LimitError", "InternalError",
]
