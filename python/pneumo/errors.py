"""Exceptions raised by the pneumo package.

Every failing libpneumo call becomes a subclass of PneumoError chosen by the
pneumo_status code, carrying the library's own message (pneumo_last_error(),
which names the file, layer or shape involved) and the numeric status. The
subclasses also derive from the closest built-in exception, so `except ValueError`
or `except OSError` work as a Python programmer expects."""
from . import _structs as S


class PneumoError(Exception):
    """A libpneumo call failed. `status` is the pneumo_status code, `message` the
    library's explanation, `function` the C function that failed (if known)."""

    status = None

    def __init__(self, message, status=None, function=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.function = function

    def __str__(self):
        return self.message


class InvalidArgumentError(PneumoError, ValueError):
    """PNEUMO_ERR_INVALID_ARG: NULL pointer or value out of range."""
    status = S.ERR_INVALID_ARG


class ShapeError(PneumoError, ValueError):
    """PNEUMO_ERR_SHAPE: tensor or layer shapes do not fit together."""
    status = S.ERR_SHAPE


class OutOfMemoryError(PneumoError, MemoryError):
    """PNEUMO_ERR_NOMEM: an allocation failed or would exceed a limit."""
    status = S.ERR_NOMEM


class PneumoIOError(PneumoError, OSError):
    """PNEUMO_ERR_IO: reading or writing a file failed."""
    status = S.ERR_IO


class FormatError(PneumoError, ValueError):
    """PNEUMO_ERR_FORMAT: a file is corrupt, truncated or of the wrong kind."""
    status = S.ERR_FORMAT


class StateError(PneumoError, RuntimeError):
    """PNEUMO_ERR_STATE: call made in the wrong order or on an unsuitable object
    (also raised by the wrapper for a closed object)."""
    status = S.ERR_STATE


class UnsupportedError(PneumoError, NotImplementedError):
    """PNEUMO_ERR_UNSUPPORTED: a valid request this build does not implement."""
    status = S.ERR_UNSUPPORTED


class LimitError(PneumoError, ValueError):
    """PNEUMO_ERR_LIMIT: input exceeds a configured safety limit."""
    status = S.ERR_LIMIT


class CancelledError(PneumoError):
    """PNEUMO_ERR_CANCELLED: a callback asked to stop."""
    status = S.ERR_CANCELLED


class LibraryNotFoundError(ImportError):
    """libpneumo could not be loaded; the message lists every place tried and why
    each failed. `attempts` is a list of (candidate, reason)."""

    def __init__(self, message, attempts=()):
        super().__init__(message)
        self.attempts = list(attempts)


class VersionMismatchError(ImportError):
    """The loaded libpneumo has a different major version than this package."""


_BY_STATUS = {cls.status: cls for cls in (
    InvalidArgumentError, ShapeError, OutOfMemoryError, PneumoIOError, FormatError,
    StateError, UnsupportedError, LimitError, CancelledError)}


def error_class(status):
    """Exception class for a pneumo_status code (PneumoError for unknown codes)."""
    return _BY_STATUS.get(status, PneumoError)


__all__ = ["PneumoError", "InvalidArgumentError", "ShapeError", "OutOfMemoryError",
           "PneumoIOError", "FormatError", "StateError", "UnsupportedError", "LimitError",
           "CancelledError", "LibraryNotFoundError", "VersionMismatchError", "error_class"]
