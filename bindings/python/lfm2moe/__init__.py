"""Python bindings (ctypes) for liblfm2moe: run LFM2 mixture-of-experts
models (GGUF) on CPUs.

    import lfm2moe
    with lfm2moe.Model("model.gguf") as model, lfm2moe.Session(model) as s:
        print(s.chat([{"role": "user", "content": "Hi"}], max_tokens=64))

The shared library is found through the LFM2MOE_LIBRARY environment variable
(a path to liblfm2moe.so), then next to this package, then on the system
loader path.
"""

from . import _native
from .core import (Generation, GenerationResult, Grammar, Model, ModelInfo, Session, VocabInfo,
                   parse_tool_calls)
from .errors import (BadFormatError, BadModelError, BufferTooSmallError, CancelledError,
                     ClosedError, ContextFullError, Error, InternalError, InvalidArgumentError,
                     IoError, LimitError, NotFoundError, OutOfMemoryError, ParseError,
                     TokenOutOfRangeError, UnsupportedArchError, UnsupportedTemplateError,
                     UnsupportedTypeError)

__version__ = "%d.%d.%d" % (_native.VERSION_MAJOR, _native.VERSION_MINOR, _native.VERSION_PATCH)


def library_version() -> str:
    """Version of the liblfm2moe actually loaded, e.g. "0.1.0"."""
    return _native.version_string()


def library_path() -> str:
    """Path of the loaded shared library."""
    return _native.lib._name


__all__ = [
    "Model", "Session", "Generation", "Grammar", "GenerationResult", "ModelInfo", "VocabInfo",
    "parse_tool_calls", "library_version", "library_path", "Error", "ClosedError",
    "InvalidArgumentError", "OutOfMemoryError", "IoError", "BadFormatError",
    "UnsupportedArchError", "UnsupportedTypeError", "BadModelError", "ContextFullError",
    "TokenOutOfRangeError", "BufferTooSmallError", "NotFoundError", "CancelledError",
    "UnsupportedTemplateError", "ParseError", "LimitError", "InternalError",
]
