"""The exception tree: every error a user can act on derives from AistackError.

The CLI prints `str(error)` on one line and exits with code 2; it never shows
a traceback for these.
"""

from __future__ import annotations

import sys
from typing import Self

Location = tuple[str | int, ...]

EXIT_USAGE = 2  # what every aistack command returns for an error the user can act on


class AistackError(Exception):
    """Base class of every error aistack reports to its user.

    `field`, where set, is the config field the error is about (e.g. `("detector",
    "model")`), for a caller that knows where the value came from to name it.
    """

    field: Location | None = None

    def at(self, *field: str | int) -> Self:
        """This error, about config field `field` (unless it already names a deeper one)."""
        if self.field is None:
            self.field = field
        return self


def field_name(loc: Location) -> str:
    """`("cameras", 0, "source", "uri")` → `cameras[0].source.uri`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


class ConfigError(AistackError):
    """A configuration file, key, value or command-line option is wrong."""


class SourceError(AistackError):
    """A video source is missing, unreadable, corrupt or unreachable."""


class ModelError(AistackError):
    """A detector model is unknown, missing, corrupt or cannot run on the device."""


class SinkError(AistackError):
    """A store or other sink cannot be opened or written."""


def one_line(error: AistackError) -> str:
    """The error as the one line the CLI prints: its field first, problems joined by '; '."""
    parts = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = "; ".join(parts) or type(error).__name__
    return text if error.field is None else f"{field_name(error.field)}: {text}"


def report_error(error: AistackError) -> int:
    """Print `error` on stderr as one `aistack: error: ...` line, credentials redacted."""
    from aistack.redact import redact_text

    print(f"aistack: error: {redact_text(one_line(error))}", file=sys.stderr)
    return EXIT_USAGE
