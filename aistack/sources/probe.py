"""Why a stream did not open: the host, the port or the server's answer, in words.

OpenCV only says that it could not open a URL. When it fails, this asks the
network ourselves (name lookup, TCP connect, then an HTTP GET or an RTSP DESCRIBE)
so the error says what happened: a 404 from the server, a refused connection, a
host that does not resolve. Nothing here repeats credentials.
"""

from __future__ import annotations

import base64
import socket
import ssl
import urllib.error
import urllib.request
from urllib.parse import SplitResult, unquote, urlsplit

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "http": 80, "https": 443}


def explain_stream_failure(uri: str, timeout: float = 3.0) -> str | None:
    """What went wrong opening `uri`, or None when the server looks fine (or we cannot tell)."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if not host or scheme not in DEFAULT_PORTS:
        return None
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        return None  # the config refuses such URLs before they get here
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return f"cannot resolve the host name {host!r}"
    if scheme in ("http", "https"):
        return _http_answer(parts, timeout)
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            if scheme != "rtsp":
                return None
            return _rtsp_answer(connection, parts, timeout)
    except ConnectionRefusedError:
        return f"connection refused by {host}:{port} (nothing listens on that port)"
    except TimeoutError:
        return f"no answer from {host}:{port} within {timeout:.0f} s"
    except OSError as error:
        return f"cannot reach {host}:{port}: {error.strerror or error}"


def _without_credentials(parts: SplitResult) -> str:
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=netloc).geturl()


def _basic_auth(parts: SplitResult) -> str | None:
    if parts.username is None:
        return None
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _http_answer(parts: SplitResult, timeout: float) -> str | None:
    request = urllib.request.Request(_without_credentials(parts), method="GET")
    if (auth := _basic_auth(parts)) is not None:
        request.add_header("Authorization", auth)
    where = f"{parts.hostname}:{parts.port or DEFAULT_PORTS[parts.scheme.lower()]}"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            kind = response.headers.get("Content-Type", "no content type")
    except urllib.error.HTTPError as error:
        return f"the server answered HTTP {error.code} {error.reason}{_http_hint(error.code)}"
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, ConnectionRefusedError):
            return f"connection refused by {where} (nothing listens on that port)"
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return f"no answer from {where} within {timeout:.0f} s"
        if isinstance(reason, ssl.SSLError):
            return f"TLS failed with {where}: {reason.reason or reason}"
        return f"cannot reach {where}: {getattr(reason, 'strerror', None) or reason}"
    except (TimeoutError, OSError, ValueError):
        return None
    return f"the server answered, but with {kind}, not a video stream OpenCV can read"


def _http_hint(code: int) -> str:
    if code == 404:
        return ": no such path on the server (check the stream's path)"
    if code in (401, 403):
        return ": check the credentials"
    return ""


def _rtsp_answer(connection: socket.socket, parts: SplitResult, timeout: float) -> str | None:
    """The status of an RTSP DESCRIBE of the URL (without its credentials)."""
    request = (
        f"DESCRIBE {_without_credentials(parts)} RTSP/1.0\r\nCSeq: 1\r\n"
        "Accept: application/sdp\r\nUser-Agent: aistack\r\n\r\n"
    )
    try:
        connection.settimeout(timeout)
        connection.sendall(request.encode())
        answer = connection.recv(1024).decode("latin-1")
    except (OSError, UnicodeError):
        return None
    status = answer.split("\r\n", 1)[0].split(" ", 2)
    if len(status) < 2 or not status[0].startswith("RTSP/"):
        return f"{parts.hostname}:{parts.port or 554} does not answer as an RTSP server"
    code, reason = status[1], (status[2] if len(status) > 2 else "").strip()
    if code == "404":
        return f"the server answered RTSP 404 {reason}: no such stream path"
    if code == "401":
        given = "check the credentials" if parts.username else "it needs credentials"
        return f"the server answered RTSP 401 {reason}: {given}"
    if code.startswith(("4", "5")):
        return f"the server answered RTSP {code} {reason}"
    return None
