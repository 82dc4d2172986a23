"""The one error family: every problem a user can fix is a ``FerError``.

The command line, the HTTP-free entry points and the dashboard's pages catch ``FerError`` only:
it prints (or shows) one line naming the file, value or setting and what is wrong with it. Any
other exception is a bug in FER Studio and keeps its traceback (on stderr for the command line, in
the dashboard's log file with a short message on the page).

Each subclass still derives from ``ValueError`` (``SplitNotFoundError`` also from ``KeyError``),
so code written against the library before this family existed keeps catching what it caught.
Imports nothing: the lowest layer of fer_core, beside ``labels``.
"""

from __future__ import annotations


class FerError(ValueError):
    """A problem the user can fix; the message says what and where, in one line."""


class DataError(FerError):
    """A dataset, photo, video or upload cannot be read; the message names the file or row and why."""


class ModelError(FerError):
    """A model cannot be used: no such file, not a ``.keras`` file, refused by safe mode, or it does
    not map 48x48 grey faces to the 7 classes."""


class ConfigError(FerError):
    """A setting, an option or a command's arguments are out of range or contradict each other."""


class SplitNotFoundError(DataError, KeyError):
    """The dataset has no such split; the message lists the splits it has."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class UnknownNameError(ConfigError, KeyError):
    """No model architecture, preset or other registered thing by that name; the message lists them."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class OutsideDataRootError(DataError):
    """A user path that would leave its allowed folder (``..``, an absolute path, a link out)."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none: what a page
    or the command line shows of an error raised by a library underneath (Keras, Pillow)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
