"""GStreamer for the RTSP emulator: what it needs installed, and its modules loaded on demand.

Only the emulator's server process loads them; the rest of aistack never imports PyGObject.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aistack.errors import SourceError

# One element from each GStreamer package the server needs, to name what is missing.
_ELEMENTS = {
    "decodebin": "gstreamer1.0-plugins-base",
    "rtph264pay": "gstreamer1.0-plugins-good",
    "intervideosink": "gstreamer1.0-plugins-bad",
    "x264enc": "gstreamer1.0-plugins-ugly",
    "avdec_h264": "gstreamer1.0-libav",
}
APT_PACKAGES = ("gir1.2-gst-rtsp-server-1.0", *_ELEMENTS.values())
PIP_REQUIREMENT = "PyGObject<3.51"  # 3.51+ needs girepository-2.0, which Debian 12 lacks
_PIP_BUILD_APT = "libgirepository1.0-dev libcairo2-dev pkg-config"


@dataclass(frozen=True)
class Gi:
    """The GObject modules the server uses, imported only where it runs."""

    Gst: Any
    GLib: Any
    GstRtsp: Any
    GstRtspServer: Any


def load_gstreamer() -> Gi:
    """GStreamer's modules, or a SourceError naming what to install."""
    install = f"apt-get install {' '.join(APT_PACKAGES)}"
    try:
        import gi
    except ImportError:
        raise SourceError(
            f"the RTSP emulator needs PyGObject: pip install '{PIP_REQUIREMENT}' "
            f"(building it needs apt-get install {_PIP_BUILD_APT}), and {install}"
        ) from None
    try:
        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtsp", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, Gst, GstRtsp, GstRtspServer
    except (ImportError, ValueError) as error:
        raise SourceError(
            f"the RTSP emulator needs GStreamer's RTSP server ({error}): {install}"
        ) from None
    Gst.init(None)
    missing = {pkg for element, pkg in _ELEMENTS.items() if not Gst.ElementFactory.find(element)}
    if missing:
        raise SourceError(f"the RTSP emulator needs: apt-get install {' '.join(sorted(missing))}")
    return Gi(Gst, GLib, GstRtsp, GstRtspServer)
