"""The `aistack emulate` command: serve clips as looping RTSP cameras until stopped."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from aistack.errors import ConfigError, SourceError
from aistack.live.emulator import Emulator

_EPILOG = """\
examples:
  aistack emulate clip.mp4                      rtsp://127.0.0.1:8554/clip
  aistack emulate door=a.mp4 street=b.mp4       two cameras: .../door and .../street
  aistack emulate clip.mp4 --port 0             any free port (printed)
  aistack emulate clip.mp4 --ingest annotated   also a mount to push to (RTSP RECORD):
                                                push to .../annotated, watch .../annotated-view

Each clip plays in a loop at its own frame rate, as a live camera that never ends. Every
reader of a mount sees the same picture. Readers open fastest over TCP, e.g.
OPENCV_FFMPEG_CAPTURE_OPTIONS="rtsp_transport;tcp|analyzeduration;0|probesize;32"."""


def add_emulate_parser(
    subparsers: argparse._SubParsersAction[Any],
) -> argparse.ArgumentParser:
    """Add `emulate` to the `aistack` command's subcommands."""
    emulate: argparse.ArgumentParser = subparsers.add_parser(
        "emulate", help="serve video clips as looping live RTSP cameras, until stopped",
        description="Serve each CLIP as an RTSP camera at rtsp://HOST:PORT/NAME and print the "
        "URLs, one a line. Needs GStreamer and PyGObject. Stop with Ctrl-C.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    emulate.add_argument(
        "clips", nargs="*", metavar="[NAME=]CLIP",
        help="a video file; the mount's name is NAME, or else the file's stem",
    )  # fmt: skip
    emulate.add_argument("--port", type=_port, default=8554,
                         help="RTSP port, 1-65535 (default 8554; 0 picks a free one)")  # fmt: skip
    emulate.add_argument("--host", default="127.0.0.1",
                         help="address to listen on (default 127.0.0.1; 0.0.0.0: all)")  # fmt: skip
    emulate.add_argument(
        "--ingest", action="append", default=[], metavar="NAME",
        help="a mount that takes a pushed stream (e.g. `aistack run` with live_view.push_url) "
        "at .../NAME, watched at .../NAME-view; repeat for more",
    )  # fmt: skip
    return emulate


def _port(text: str) -> int:
    """A TCP port, 1-65535, or 0 for any free one (the OS would wrap 99999 to 34463)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{port} is not a port: give 1-65535, or 0 for any free one"
        )
    return port


def run_emulate(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; exit 0 then, or raise SourceError if the server dies."""
    clips, names = _split_names(args.clips)
    if not clips and not args.ingest:
        raise ConfigError("aistack emulate: give at least one CLIP or --ingest NAME")
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Emulator(
            clips, port=args.port, host=args.host, names=names, ingest=args.ingest
        ) as emulator:
            for mount in emulator.mounts.values():
                print(mount.url, flush=True)
                print(f"aistack: {mount.name}: {mount.clip} ({mount.width}x{mount.height}, "
                      f"{mount.fps:g} fps, looping)", file=sys.stderr)  # fmt: skip
            for name, (push, view) in emulator.ingest_urls.items():
                print(view, flush=True)
                print(f"aistack: {name}: push to {push}, watch {view}", file=sys.stderr)
            print("aistack: serving; stop with Ctrl-C", file=sys.stderr, flush=True)
            while not stopping.wait(0.5):
                if not emulator.running:
                    raise SourceError("the RTSP emulator stopped unexpectedly (see its messages)")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _split_names(arguments: list[str]) -> tuple[list[Path], list[str | None]]:
    """`door=a.mp4 b.mp4` → the clips, and their names where given."""
    clips: list[Path] = []
    names: list[str | None] = []
    for argument in arguments:
        name, sep, path = argument.partition("=")
        if not sep or Path(argument).exists():  # a file whose name holds '=' is just a file
            name, path = "", argument
        clips.append(Path(path))
        names.append(name or None)
    return clips, names
