"""Exceptions: one subclass of Error per lfm2moe_status code."""

from __future__ import annotations

from . import _native as N


class Error(Exception):
    """A library call failed.  `status` is the lfm2moe_status code, `message`
    the detail from lfm2moe_last_error() (may be empty)."""

    status = None

    def __init__(self, message="", status=None, function=None):
        if status is not None:
            self.status = status
        self.message = message
        self.function = function
        name = N.lfm2moe_status_string(self.status).decode("utf-8", "replace") \
            if self.status is not None else "error"
        text = "%s: %s" % (function, name) if function else name
        if message:
            text += ": " + message
        super().__init__(text)

    @property
    def status_name(self) -> str:
        """lfm2moe_status_string() of the status, e.g. "not found"."""
        return N.lfm2moe_status_string(self.status).decode("utf-8", "replace")


class InvalidArgumentError(Error):
    """Status LFM2MOE_ERR_INVALID_ARGUMENT."""

    status = N.ERR_INVALID_ARGUMENT


class OutOfMemoryError(Error):
    """Status LFM2MOE_ERR_OUT_OF_MEMORY."""

    status = N.ERR_OUT_OF_MEMORY


class IoError(Error):
    """Status LFM2MOE_ERR_IO."""

    status = N.ERR_IO


class BadFormatError(Error):
    """Status LFM2MOE_ERR_BAD_FORMAT."""

    status = N.ERR_BAD_FORMAT


class UnsupportedArchError(Error):
    """Status LFM2MOE_ERR_UNSUPPORTED_ARCH."""

    status = N.ERR_UNSUPPORTED_ARCH


class UnsupportedTypeError(Error):
    """Status LFM2MOE_ERR_UNSUPPORTED_TYPE."""

    status = N.ERR_UNSUPPORTED_TYPE


class BadModelError(Error):
    """Status LFM2MOE_ERR_BAD_MODEL."""

    status = N.ERR_BAD_MODEL


class ContextFullError(Error):
    """Status LFM2MOE_ERR_CONTEXT_FULL."""

    status = N.ERR_CONTEXT_FULL


class TokenOutOfRangeError(Error):
    """Status LFM2MOE_ERR_TOKEN_OUT_OF_RANGE."""

    status = N.ERR_TOKEN_OUT_OF_RANGE


class BufferTooSmallError(Error):
    """Status LFM2MOE_ERR_BUFFER_TOO_SMALL."""

    status = N.ERR_BUFFER_TOO_SMALL


class NotFoundError(Error):
    """Status LFM2MOE_ERR_NOT_FOUND."""

    status = N.ERR_NOT_FOUND


class CancelledError(Error):
    """Status LFM2MOE_ERR_CANCELLED."""

    status = N.ERR_CANCELLED


class UnsupportedTemplateError(Error):
    """Status LFM2MOE_ERR_UNSUPPORTED_TEMPLATE."""

    status = N.ERR_UNSUPPORTED_TEMPLATE


class ParseError(Error):
    """Status LFM2MOE_ERR_PARSE."""

    status = N.ERR_PARSE


class LimitError(Error):
    """Status LFM2MOE_ERR_LIMIT."""

    status = N.ERR_LIMIT


class InternalError(Error):
    """Status LFM2MOE_ERR_INTERNAL."""

    status = N.ERR_INTERNAL


class ClosedError(ValueError):
    """A Model/Session was used after close() (like I/O on a closed file)."""


_BY_STATUS = {cls.status: cls for cls in (
    InvalidArgumentError, OutOfMemoryError, IoError, BadFormatError, UnsupportedArchError,
    UnsupportedTypeError, BadModelError, ContextFullError, TokenOutOfRangeError,
    BufferTooSmallError, NotFoundError, CancelledError, UnsupportedTemplateError, ParseError,
    LimitError, InternalError)}


def error_for(status, function=None, message=None):
    """The exception for a non-OK status.  Reads lfm2moe_last_error(), so call
    it on the thread that made the failing call, right after it."""
    if message is None:
        raw = N.lfm2moe_last_error()
        message = raw.decode("utf-8", "replace") if raw else ""
    cls = _BY_STATUS.get(status)
    if cls is None:
        return Error(message, status=status, function=function)
    return cls(message, function=function)


def check(status, function=None):
    if status != N.OK:
        raise error_for(status, function)
    return status
