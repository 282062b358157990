"""The exception tree: every error a user can act on derives from AistackError.

The CLI prints `str(error)` on one line and exits with code 2; it never shows
a traceback for these.
"""

from __future__ import annotations

import sys

EXIT_USAGE = 2  # what every aistack command returns for an error the user can act on


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


def report_error(error: AistackError) -> int:
    """Print `error` on stderr as `aistack: error: ...` lines, credentials redacted; EXIT_USAGE."""
    from aistack.redact import redact_text

    for line in str(error).splitlines():
        print(f"aistack: error: {redact_text(line)}", file=sys.stderr)
    return EXIT_USAGE
