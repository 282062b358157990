"""The exception tree: every error a user can act on derives from AistackError.

The CLI prints `str(error)` on one line and exits with code 2; it never shows
a traceback for these.
"""

from __future__ import annotations


class AistackError(Exception):
    """Base class of every error aistack reports to its user."""


class ConfigError(AistackError):
    """A configuration file, key, value or command-line option is wrong."""


class SourceError(AistackError):
    """A video source is missing, unreadable, corrupt or unreachable."""


class ModelError(AistackError):
    """A detector model is unknown, missing, corrupt or cannot run on the device."""


class SinkError(AistackError):
    """A store or other sink cannot be opened or written."""
