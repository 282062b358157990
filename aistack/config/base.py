"""What every config model shares: strict models, ports, URLs and the data directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https")


def _port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ValueError(f"a port is a number from 1 to 65535, got {port}")
    return port


Port = Annotated[int, AfterValidator(_port)]


def default_data_dir() -> Path:
    """Where stores live unless configured: $AISTACK_HOME, else the XDG data dir."""
    if home := os.environ.get("AISTACK_HOME"):
        return Path(home)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "aistack"


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, values are immutable."""

    # NaN and infinity are never meant: YAML's .inf, 1e400 and nan are errors.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def check_stream_url(uri: str) -> None:
    """Refuse a URL aistack cannot open: another scheme, no host, a port that is no port.

    Paths and webcam indexes pass; the messages never repeat the URL (it may hold a
    password).
    """
    if "://" in uri:
        check_url(uri, STREAM_SCHEMES, "a video file path or a webcam index")


def check_url(uri: str, schemes: tuple[str, ...], otherwise: str = "") -> None:
    """Refuse a URL with a scheme not in `schemes`, no host, or a port that is no port."""
    scheme, sep, _ = uri.partition("://")
    if not sep or scheme.lower() not in schemes:
        supported = ", ".join(f"{s}://" for s in schemes) + (f", {otherwise}" if otherwise else "")
        given = f"unsupported scheme '{scheme}://'" if sep else "not a URL"
        raise ValueError(f"{given}; supported: {supported}")
    netloc = urlsplit(uri).netloc
    hostport = netloc.rpartition("@")[2]
    host, colon, port = hostport.rpartition(":") if not hostport.endswith("]") else ("", "", "")
    if not colon:
        host, port = hostport, ""
    if not host or host == "[]":
        raise ValueError(f"malformed URL: no host after '{scheme}://'")
    if colon and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"malformed URL: bad port {port!r} (a port is a number from 1 to 65535)")


def source_kind(uri: str) -> Literal["file", "rtsp", "http", "webcam"]:
    lowered = uri.lower()
    if lowered.startswith(("rtsp://", "rtsps://", "rtmp://")):
        return "rtsp"
    if lowered.startswith(("http://", "https://")):
        return "http"
    if uri.isdigit():
        return "webcam"
    return "file"
