"""Serve video clips as looping live RTSP cameras, so streams can be tested without a camera.

`Emulator` runs a GStreamer RTSP server in a child process (`python -m aistack.live.emulator`),
so a test can kill and restart it to simulate an outage, and GLib's main loop never shares
a process with the caller's threads. Each clip is decoded once, at its native rate, into an
in-process video channel and rewound when it ends; its mount encodes that channel to H.264
and is shared, so every reader sees the same live picture, as with a real camera.
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from aistack.errors import ConfigError, SourceError

VIEW_SUFFIX = "-view"  # an ingest mount's pushed stream is watched at <name>-view

_MOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Mount:
    """One emulated camera: a clip served in a loop at `url`."""

    name: str
    clip: Path
    url: str
    fps: float
    width: int
    height: int


class Emulator:
    """Looping RTSP cameras from clips: `rtsp://HOST:PORT/<name>`, one mount per clip.

    A name left out (None) is the clip's stem. `port=0` picks a free port on the first start;
    restarts keep it, so readers reconnect to the same URLs.
    """

    def __init__(
        self,
        clips: Sequence[Path | str],
        port: int = 8554,
        host: str = "127.0.0.1",
        names: Sequence[str | None] | None = None,
        ingest: Sequence[str] = (),
    ) -> None:
        if not clips and not ingest:
            raise ConfigError("the emulator needs at least one clip or ingest mount")
        self.clips = [Path(clip).expanduser().resolve() for clip in clips]
        self.names = _mount_names(self.clips, names)
        self.ingest = list(ingest)
        taken = set(self.names)
        for name in self.ingest:
            if not _MOUNT_NAME.fullmatch(name) or name in taken or name + VIEW_SUFFIX in taken:
                raise ConfigError(
                    f"ingest mount '{name}': use letters, digits, '.', '_' or '-', "
                    "and a name no other mount has"
                )
            taken.update((name, name + VIEW_SUFFIX))
        self.port = port
        self.host = host
        self._mounts: dict[str, Mount] = {}
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def urls(self) -> dict[str, str]:
        """Each mount's URL by name; the port is known once started when it was 0."""
        return {name: self._url(name) for name in self.names}

    @property
    def ingest_urls(self) -> dict[str, tuple[str, str]]:
        """Each ingest mount's (push URL, view URL): push H.264 to one, watch the other."""
        return {name: (self._url(name), self._url(name + VIEW_SUFFIX)) for name in self.ingest}

    @property
    def mounts(self) -> dict[str, Mount]:
        """Each mount with the clip's size and rate, as the server read them (after start)."""
        return dict(self._mounts)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server process, e.g. to SIGSTOP it and emulate a hung camera."""
        return self._process.pid if self.running and self._process else None

    def start(self, timeout: float = 10.0) -> Emulator:
        """Start serving; return when every mount answers an RTSP DESCRIBE."""
        if self.running:
            return self
        for clip in self.clips:
            if not clip.is_file():
                raise SourceError(f"{clip}: no such clip to emulate")
        deadline = time.monotonic() + timeout
        mounts = [{"name": n, "clip": str(c)} for n, c in zip(self.names, self.clips, strict=True)]
        spec = {
            "host": self.host, "port": self.port, "mounts": mounts, "ingest": self.ingest,
            "timeout": timeout,
        }  # fmt: skip
        # The child must run this very copy of aistack, installed or not.
        path = [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, path)))
        # Its own session keeps a terminal's Ctrl-C away from it, so the parent stops it in
        # order; its stdin is a pipe it watches, so it also ends when the parent dies.
        self._process = subprocess.Popen(
            [sys.executable, "-m", "aistack.live.rtsp_server", json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True,
        )  # fmt: skip
        try:
            ready = self._read_ready_line(deadline, timeout)
            self.port = int(ready["port"])
            self._mounts = {
                name: Mount(name, clip, self._url(name), **ready["mounts"][name])
                for name, clip in zip(self.names, self.clips, strict=True)
            }
            for name in [*self.names, *(n + VIEW_SUFFIX for n in self.ingest)]:
                self._await_describe(name, deadline, timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server in order (SIGTERM), or by force if it does not stop in time."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
        self._reap()

    def kill(self) -> None:
        """End the server at once (SIGKILL), as a crash or a pulled cable would."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
        self._reap()

    def restart(self, timeout: float = 10.0) -> Emulator:
        """Stop the server if it still runs, then start it again on the same port."""
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _url(self, name: str) -> str:
        return f"rtsp://{_client_host(self.host)}:{self.port}/{name}"

    def _reap(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()

    def _read_ready_line(self, deadline: float, timeout: float) -> dict[str, Any]:
        """The child's one line on stdout: its port and clips' formats, or its error."""
        assert self._process is not None and self._process.stdout is not None
        fd, line = self._process.stdout.fileno(), b""
        while not line.endswith(b"\n"):
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise SourceError(f"the RTSP emulator did not start within {timeout:g} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                code = self._process.wait()
                raise SourceError(f"the RTSP emulator exited with code {code} before serving")
            line += chunk
        message: dict[str, Any] = json.loads(line)
        if "error" in message:
            raise SourceError(str(message["error"]))
        return message

    def _await_describe(self, name: str, deadline: float, timeout: float) -> None:
        host = _client_host(self.host)
        while True:
            try:
                status = _describe(host, self.port, name, max(0.1, deadline - time.monotonic()))
            except OSError:
                status = 0
            if status == 200:
                return
            if not self.running:
                raise SourceError(f"the RTSP emulator stopped while preparing mount '{name}'")
            if time.monotonic() >= deadline:
                raise SourceError(
                    f"{self._url(name)}: not ready within {timeout:g} s (last status {status})"
                )
            time.sleep(0.05)


def check_gstreamer() -> None:
    """Raise SourceError naming what to install if the RTSP server cannot run here."""
    from aistack.live.gstreamer import load_gstreamer

    load_gstreamer()


def _mount_names(clips: Sequence[Path], names: Sequence[str | None] | None) -> list[str]:
    given = list(names) if names is not None else [None] * len(clips)
    if len(given) != len(clips):
        raise ConfigError(f"{len(given)} mount names for {len(clips)} clips")
    explicit = [name for name in given if name is not None]
    for name in explicit:
        if not _MOUNT_NAME.fullmatch(name):
            raise ConfigError(f"mount name '{name}': use letters, digits, '.', '_' or '-'")
    if len(set(explicit)) != len(explicit):
        raise ConfigError(f"mount names must differ: {', '.join(explicit)}")
    chosen: list[str] = []
    for clip, wanted in zip(clips, given, strict=True):
        if wanted is not None:
            chosen.append(wanted)
            continue
        # The clip's stem; the same clip twice is two cameras: a, a-2.
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", clip.stem).strip("-._") or "clip"
        name, n = stem, 1
        while name in chosen or name in explicit:
            n += 1
            name = f"{stem}-{n}"
        chosen.append(name)
    return chosen


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0") else host


def _describe(host: str, port: int, name: str, timeout: float) -> int:
    """The status code of an RTSP DESCRIBE: 200 once the mount can stream."""
    request = (
        f"DESCRIBE rtsp://{host}:{port}/{name} RTSP/1.0\r\nCSeq: 1\r\n"
        "Accept: application/sdp\r\nUser-Agent: aistack-emulator\r\n\r\n"
    )
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(request.encode())
        head = connection.recv(4096).decode("latin-1")
    parts = head.split(None, 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
