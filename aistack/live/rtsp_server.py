"""The RTSP emulator's server process: GStreamer's RTSP server looping clips at native fps.

Started by `aistack.live.emulator.Emulator` as `python -m aistack.live.rtsp_server SPEC_JSON`;
it imports PyGObject, so nothing else in aistack has to.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from aistack.errors import SourceError
from aistack.live.emulator import VIEW_SUFFIX
from aistack.live.gstreamer import load_gstreamer

# The server side: everything below runs only in the child process.

_FALLBACK_FPS = Fraction(25)
# A keyframe every half second: a reader that joins a shared stream waits for one.
_KEYFRAME_SECONDS = 0.5


_INGEST_FPS = Fraction(10)  # the view's rate; pushed frames are repeated or dropped to it


def _mount_launch(channel: str, fps: Fraction) -> str:
    keyframes = max(1, round(float(fps) * _KEYFRAME_SECONDS))
    # intervideosrc repeats the latest frame at the clip's rate, so the stream stays live and
    # steady while the producer rewinds. One encoder thread means one slice per frame: with
    # several, FFmpeg readers saw an extra, half-decoded picture at every keyframe.
    # config-interval=-1 sends SPS/PPS with every keyframe, so a late reader can start there.
    return (
        f"( intervideosrc channel={channel} ! video/x-raw,framerate={fps.numerator}/"
        f"{fps.denominator} ! videoconvert ! video/x-raw,format=I420 ! x264enc "
        f"tune=zerolatency speed-preset=ultrafast key-int-max={keyframes} threads=1 ! "
        "rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )


class _Server:
    """One producer pipeline and one shared RTSP mount per clip, until told to stop."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.gi = load_gstreamer()
        self.server = self.gi.GstRtspServer.RTSPServer.new()
        self.server.set_address(spec["host"])
        self.server.set_service(str(spec["port"]))
        self.loop = self.gi.GLib.MainLoop()
        self.producers: list[Any] = []
        self.held: list[tuple[Any, Any]] = []
        self.failed: list[str] = []

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT or the parent's end; 1 if a clip failed meanwhile."""
        GLib = self.gi.GLib
        try:
            formats = {m["name"]: self._add_mount(i, m) for i, m in enumerate(self.spec["mounts"])}
            try:
                self.server.create_source(None).attach(None)
            except GLib.Error as error:
                where = f"{self.spec['host']}:{self.spec['port']}"
                reason = error.message.rsplit(": ", 1)[-1]  # "Address already in use"
                raise SourceError(
                    f"the RTSP emulator cannot listen on {where}: {reason} "
                    "(choose another port, or 0 for a free one)"
                ) from None
            for index, name in enumerate(self.spec.get("ingest", [])):
                self._add_ingest(index, name)
            port = self.server.get_bound_port()
            for mount in self.spec["mounts"]:
                self._hold_prepared(port, mount["name"])
            self.server.connect("client-connected", self._on_client_connected)
            for signum in (signal.SIGTERM, signal.SIGINT):
                GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, self._quit)
            # The parent holds our stdin open and never writes: end of file means it is gone.
            condition = GLib.IOCondition.IN | GLib.IOCondition.HUP
            GLib.io_add_watch(0, GLib.PRIORITY_DEFAULT, condition, self._quit)
            _emit({"port": port, "mounts": formats})
            self.loop.run()
        finally:
            for pipeline in self.producers:
                pipeline.set_state(self.gi.Gst.State.NULL)
        for line in self.failed:
            print(f"aistack emulator: {line}", file=sys.stderr)
        return 1 if self.failed else 0

    def _quit(self, *_: Any) -> bool:
        self.loop.quit()
        return False

    def _add_mount(self, index: int, mount: dict[str, str]) -> dict[str, float]:
        """Start the clip's producer and mount its channel; return the clip's size and rate."""
        Gst, clip = self.gi.Gst, mount["clip"]
        channel = f"aistack-{index}"
        pipeline = Gst.parse_launch(
            f"filesrc name=src ! decodebin ! videoconvert ! intervideosink name=sink "
            f"channel={channel}"
        )
        self.producers.append(pipeline)
        pipeline.get_by_name("src").set_property("location", clip)  # no quoting of odd paths
        pipeline.set_state(Gst.State.PAUSED)
        self._await_preroll(pipeline, clip)
        # A segment seek makes the clip's end post SEGMENT_DONE instead of EOS, so it can be
        # rewound without a flush: running time, and so the stream's pace, go on smoothly.
        self._seek_start(pipeline, Gst.SeekFlags.FLUSH | Gst.SeekFlags.SEGMENT)
        self._await_preroll(pipeline, clip)
        pad = pipeline.get_by_name("sink").get_static_pad("sink")
        caps = pad.get_current_caps().get_structure(0)
        ok, num, den = caps.get_fraction("framerate")
        fps = Fraction(num, den) if ok and num > 0 and den > 0 else _FALLBACK_FPS
        bus = pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self._on_producer_message, pipeline, clip)
        pipeline.set_state(Gst.State.PLAYING)

        factory = self.gi.GstRtspServer.RTSPMediaFactory.new()
        factory.set_launch(_mount_launch(channel, fps))
        factory.set_shared(True)
        self.server.get_mount_points().add_factory(f"/{mount['name']}", factory)
        width, height = caps.get_int("width")[1], caps.get_int("height")[1]
        return {"fps": round(float(fps), 3), "width": width, "height": height}

    def _add_ingest(self, index: int, name: str) -> None:
        """A mount that takes a pushed H.264 stream (RTSP RECORD), and one to watch it.

        A RECORD mount cannot be played, so what arrives goes into a video channel
        that a second, ordinary mount (`<name>-view`) encodes for readers. Until
        something is pushed, readers of the view get black 320x240 frames. The view
        is not held prepared: its encoder would fix that size before a push began.
        """
        server = self.gi.GstRtspServer
        channel = f"aistack-ingest-{index}"
        record = server.RTSPMediaFactory.new()
        record.set_transport_mode(server.RTSPTransportMode.RECORD)
        record.set_launch(
            f"( rtph264depay name=depay0 ! h264parse ! avdec_h264 ! videoconvert ! "
            f"intervideosink channel={channel} )"
        )
        view = server.RTSPMediaFactory.new()
        view.set_launch(_mount_launch(channel, _INGEST_FPS))
        view.set_shared(True)
        mounts = self.server.get_mount_points()
        mounts.add_factory(f"/{name}", record)
        mounts.add_factory(f"/{name}{VIEW_SUFFIX}", view)

    def _seek_start(self, pipeline: Any, flags: Any) -> None:
        Gst = self.gi.Gst
        pipeline.seek(1.0, Gst.Format.TIME, flags, Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1)

    def _await_preroll(self, pipeline: Any, clip: str) -> None:
        Gst = self.gi.Gst
        result, _, _ = pipeline.get_state(int(self.spec["timeout"] * Gst.SECOND))
        if result == Gst.StateChangeReturn.SUCCESS:
            return
        message = pipeline.get_bus().timed_pop_filtered(0, Gst.MessageType.ERROR)
        if message is None:
            raise SourceError(f"{clip}: GStreamer did not start playing it in time")
        error, _ = message.parse_error()
        hint = " (apt-get install gstreamer1.0-libav)" if "plug-in" in error.message else ""
        raise SourceError(f"{clip}: GStreamer cannot play this clip: {error.message}{hint}")

    def _on_producer_message(self, _bus: Any, message: Any, pipeline: Any, clip: str) -> None:
        Gst = self.gi.Gst
        if message.type == Gst.MessageType.SEGMENT_DONE:
            self._seek_start(pipeline, Gst.SeekFlags.SEGMENT)
        elif message.type == Gst.MessageType.ERROR:
            error, _ = message.parse_error()
            self.failed.append(f"{clip}: {error.message}")
            self.loop.quit()

    def _hold_prepared(self, port: int, name: str) -> None:
        """Prepare a mount's shared media now and keep it prepared, as a camera always encodes.

        Otherwise the media is torn down whenever its last reader leaves, and a reader that
        arrives meanwhile gets 503; held, it also answers every DESCRIBE at once. Readers'
        URLs share its cache key (port and path), so they all get this one media. It stays
        paused until the first reader plays, or frames would queue up and reach that reader
        as a burst of stale pictures.
        """
        gi = self.gi
        _, url = gi.GstRtsp.RTSPUrl.parse(f"rtsp://127.0.0.1:{port}/{name}")
        factory = self.server.get_mount_points().match(f"/{name}")[0]
        media = factory.construct(url)
        thread = self.server.get_thread_pool().get_thread(
            gi.GstRtspServer.RTSPThreadType.MEDIA, gi.GstRtspServer.RTSPContext()
        )
        if media is None or not media.prepare(thread):
            raise SourceError(f"mount '{name}': GStreamer cannot prepare its stream")
        media.set_pipeline_state(gi.Gst.State.PAUSED)
        self.held.append((media, thread))

    def _on_client_connected(self, _server: Any, client: Any) -> None:
        client.connect("play-request", self._on_play_request)

    def _on_play_request(self, _client: Any, context: Any) -> None:
        # A reader that joins a running stream can decode only from a keyframe; ask for one
        # now rather than let it wait for the next (up to half a second).
        Gst = self.gi.Gst
        force = Gst.Structure.new_from_string("GstForceKeyUnit, all-headers=(boolean)true")
        payloader = context.media.get_element().get_by_name("pay0")
        payloader.send_event(Gst.Event.new_custom(Gst.EventType.CUSTOM_UPSTREAM, force))


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _main(argv: Sequence[str]) -> int:
    """`python -m aistack.live.rtsp_server SPEC_JSON`: the child process that `Emulator` starts."""
    if len(argv) != 1:
        print(
            "usage: python -m aistack.live.rtsp_server SPEC_JSON (use `aistack emulate`)",
            file=sys.stderr,
        )
        return 2
    try:
        return _Server(json.loads(argv[0])).run()
    except SourceError as error:
        _emit({"error": str(error)})
        return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
