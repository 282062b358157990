"""Jupyter widget to draw counting lines and zones on a live frame, preview counts, and save.

The frame is an `ipywidgets.Image` and mouse events come from `ipyevents` in image-pixel
coordinates: the picture is drawn in Python by the same `FrameAnnotator` that `aistack run`
uses (in-arrows included), so what you tune is what runs, and only a JPEG crosses to the
browser. Needs `pip install ipywidgets ipyevents` (and JupyterLab or Notebook 7).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import ipywidgets as w
from ipyevents import Event

from aistack.classes import COCO_CLASSES, PRESETS, resolve_classes
from aistack.config import AppConfig, DetectorConfig, source_kind
from aistack.detect import Detector, load_detector
from aistack.live.draw import FrameAnnotator
from aistack.redact import redact_url
from aistack.types import Image
from aistack.workbench import tuning_config
from aistack.workbench.preview import PreviewResult, grab_frame, run_preview
from aistack.workbench.tuning import (
    LineCounts,
    Point,
    ShapeEditor,
    TunedLine,
    TunedZone,
    describe,
    draw_shapes,
    frame_size,
    to_fractions,
)

__all__ = ["LineTuner"]

DEFAULT_LINE = (0.1, 0.5, 0.9, 0.5)  # across the middle, left to right: walking down is "in"
FILE_REFRESH_STEP = 25  # frames a file moves on per "refresh", so a new picture shows
_MODES = [("Edit", "edit"), ("Draw line", "line"), ("Draw zone", "zone")]


class LineTuner:
    """Draw and drag counting lines and zones on a frame of `source`, preview, save a YAML.

    `config` (an AppConfig or a YAML path) is the experiment to start from: its `camera`
    (default: the first) gives the lines, zones and classes, and every other setting is
    kept as it was when saving. `save_uri` is the source written to the YAML (default:
    `source`), e.g. the camera's URL when tuning on a recording. All state is settable
    from Python: `tuner.lines[0].points = (x1, y1, x2, y2)` in fractions 0–1,
    `tuner.add_zone(name, polygon)`, `tuner.classes = ["traffic"]`, `tuner.save(path)`.
    """

    def __init__(
        self,
        source: str | Path,
        config: AppConfig | str | Path | None = None,
        *,
        camera: str | None = None,
        output: str | Path = "experiments/runs/tuned.yaml",
        save_uri: str | None = None,
        preview_seconds: float = 5.0,
    ) -> None:
        self.source = str(source)
        self.save_uri = save_uri or self.source
        self._base = tuning_config.base_document(config)
        self._camera_index = tuning_config.camera_index(self._base, camera)
        tuned = self._base["cameras"][self._camera_index] if self._camera_index is not None else {}
        self.camera = str(tuned.get("name") or camera or tuning_config.camera_name(self.source))
        self._grabs = 0
        self._frame = grab_frame(self.source)
        self._annotator = FrameAnnotator()
        self._counts: dict[str, LineCounts] = {}
        self._detector: tuple[str, Detector] | None = None
        self._status = ""
        self._syncing = True  # no reactions while the view is being built
        self._synced: object = None
        detector = self._base.get("detector", {})
        classes = tuned.get("classes") or detector.get("classes") or DetectorConfig().classes
        self._build(classes, detector.get("confidence", 0.25), output, preview_seconds)
        size = frame_size(self._frame)
        self.editor = ShapeEditor(size)
        for line in tuned.get("lines", []):
            self.editor.add_line(line["name"], to_fractions(line["points"], size))
        for zone in tuned.get("zones", []):
            flat = to_fractions([float(v) for p in zone["polygon"] for v in p], size)
            self.editor.add_zone(zone["name"], list(zip(flat[::2], flat[1::2], strict=True)))
        if not tuned:
            self.editor.add_line("line-1", DEFAULT_LINE)
        self.editor.selected = self.editor.shapes[0] if self.editor.shapes else None
        self.editor.on_change = self._changed
        self._syncing = False
        self._changed()
        self._say(
            f"{size[0]}×{size[1]} frame from {redact_url(self.source)}. Drag a white handle to "
            "move a corner; 'Draw line' and 'Draw zone' add shapes; the green arrow points to "
            "the side that counts as in."
        )

    # ----- the view ----------------------------------------------------------------------
    def _build(
        self, classes: list[str], confidence: float, output: str | Path, seconds: float
    ) -> None:
        layout = w.Layout
        self.image = w.Image(format="jpeg", layout=layout(max_width="100%", height="auto"))
        self.image.add_class("aistack-frame")
        # Presses are never throttled (a lost mouseup would leave a drag stuck); moves are.
        self._presses = Event(
            source=self.image, watched_events=["mousedown", "mouseup", "mouseleave", "dragstart"],
            prevent_default_action=True, xy_coordinate_system="data",
        )  # fmt: skip
        self._moves = Event(
            source=self.image, watched_events=["mousemove"], xy_coordinate_system="data",
            throttle_or_debounce="throttle", wait=40,
        )  # fmt: skip
        self._presses.on_dom_event(self._reporting(self._on_press))
        self._moves.on_dom_event(self._reporting(self._on_move))
        self.mode = w.ToggleButtons(options=_MODES, value="edit", style={"button_width": "auto"})
        self.mode.observe(self._reporting(self._mode_changed), "value")
        self.shape_picker = w.Dropdown(description="Selected", layout=layout(width="210px"))
        self.shape_picker.observe(self._reporting(self._picked), "value")
        self.name_box = w.Text(description="Name", continuous_update=False)
        self.name_box.layout.width = "180px"
        self.name_box.observe(self._reporting(self._renamed), "value")
        self.class_picker = w.SelectMultiple(
            options=COCO_CLASSES, value=tuple(resolve_classes(classes)), rows=6,
            description="Classes", layout=layout(width="300px"),
        )  # fmt: skip
        presets = [("People", ["people"]), ("Traffic", ["traffic"]), ("Both", list(PRESETS))]
        self.confidence_slider = w.FloatSlider(
            value=confidence, min=0.05, max=0.95, step=0.01, description="Confidence",
            continuous_update=False, readout_format=".2f",
        )  # fmt: skip
        self.preview_seconds = w.BoundedFloatText(
            value=seconds, min=0.5, max=120, step=0.5, description="Seconds",
            layout=layout(width="160px"),
        )  # fmt: skip
        self.reverse_button = self._button("Reverse", self._reverse_selected, "exchange")
        self.delete_button = self._button("Delete", self._delete_selected, "trash")
        self.refresh_button = self._button("Refresh frame", self.refresh, "refresh")
        self.preview_button = self._button("Preview", lambda: self.preview(), "play")
        self.path_box = w.Text(value=str(output), description="Save to")
        self.path_box.layout.width = "460px"
        self.save_button = self._button("Save", lambda: self.save(), "save")
        self.save_button.add_class("aistack-save")
        self.counts = w.HTML()
        self.status_html = w.HTML()
        self.status_html.add_class("aistack-status")
        self.widget = w.VBox([
            self.image,
            _row([
                self.mode, self.shape_picker, self.name_box,
                self.reverse_button, self.delete_button,
            ]),
            _row([
                self.class_picker,
                w.VBox([
                    _row([self._button(label, self._preset(names)) for label, names in presets]),
                    self.confidence_slider,
                ]),
            ]),
            _row([self.refresh_button, self.preview_seconds, self.preview_button]),
            _row([self.path_box, self.save_button]),
            self.counts, self.status_html,
        ])  # fmt: skip
        self.widget.add_class("aistack-tuner")

    def _button(self, label: str, action: Callable[[], object], icon: str = "") -> Any:
        button = w.Button(description=label, icon=icon, layout=w.Layout(width="auto"))
        button.on_click(self._reporting(lambda _: action()))
        return button

    def _preset(self, names: list[str]) -> Callable[[], None]:
        def choose() -> None:
            self.classes = names

        return choose

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _reporting(self, handler: Callable[[Any], object]) -> Callable[[Any], None]:
        """A UI callback whose every failure lands in the status line, never a traceback."""

        def run(argument: Any) -> None:
            try:
                handler(argument)
            except Exception as error:
                self.editor.cancel()
                self._say(str(error) or type(error).__name__, error=True)

        return run

    def _say(self, message: str, error: bool = False) -> None:
        self._status = message
        colour, prefix = ("#b00020", "<b>Error:</b> ") if error else ("#333", "")
        text = html.escape(message)
        self.status_html.value = f'<span style="color:{colour}">{prefix}{text}</span>'

    @property
    def status(self) -> str:
        """The status line's text: the last message or error."""
        return self._status

    # ----- state settable from Python ----------------------------------------------------
    @property
    def frame(self) -> Image:
        """The frame shapes are drawn on (BGR)."""
        return self._frame

    @property
    def lines(self) -> list[TunedLine]:
        return self.editor.lines

    @property
    def zones(self) -> list[TunedZone]:
        return self.editor.zones

    @property
    def classes(self) -> list[str]:
        return list(self.class_picker.value)

    @classes.setter
    def classes(self, names: list[str]) -> None:
        self.class_picker.value = tuple(resolve_classes(names))

    @property
    def confidence(self) -> float:
        return float(self.confidence_slider.value)

    @confidence.setter
    def confidence(self, value: float) -> None:
        self.confidence_slider.value = value

    def add_line(self, name: str, points: tuple[float, float, float, float]) -> TunedLine:
        return self.editor.add_line(name, points)

    def add_zone(self, name: str, polygon: list[Point]) -> TunedZone:
        return self.editor.add_zone(name, polygon)

    def remove(self, name: str) -> None:
        self.editor.remove(name)

    def refresh(self) -> None:
        """Grab a new frame from the source (a file moves on a little each time)."""
        self._grabs += 1
        skip = FILE_REFRESH_STEP * self._grabs if source_kind(self.source) == "file" else 0
        self._frame = grab_frame(self.source, skip)
        self.editor.size = frame_size(self._frame)
        self._render()
        self._say(f"new frame from {redact_url(self.source)}")

    def to_config(self) -> AppConfig:
        """The experiment as it would be saved; ConfigError names what is wrong."""
        return tuning_config.check_experiment(self._document(self.save_uri))

    def save(self, path: str | Path | None = None) -> Path:
        """Write the experiment YAML (default: the path box), checked by `load_config`."""
        target = Path(path or self.path_box.value).expanduser()
        note = f"Tuned with aistack.workbench.widgets.LineTuner on {redact_url(self.source)}"
        tuning_config.save_experiment(self._document(self.save_uri), target, note)
        self.path_box.value = str(target)
        self._say(f"Saved {target} ({len(self.lines)} lines, {len(self.zones)} zones)")
        return target

    def preview(self, seconds: float | None = None) -> PreviewResult:
        """Detect, track and count the live source for `seconds`, drawing into the widget."""
        seconds = float(self.preview_seconds.value if seconds is None else seconds)
        config = tuning_config.check_experiment(self._document(self.source))
        index = len(config.cameras) - 1 if self._camera_index is None else self._camera_index
        config = config.model_copy(update={"cameras": [config.cameras[index]]})
        key = config.detector.model_dump_json()
        if self._detector is None or self._detector[0] != key:
            self._detector = (key, load_detector(config.detector))
        self._say(f"previewing {seconds:g} s of {redact_url(self.source)} …")
        self.preview_button.disabled = True
        try:
            result = run_preview(config, seconds, self._detector[1], self._show)
        finally:
            self.preview_button.disabled = False
        self._counts = {line.name: line.counts for line in result.lines}
        self.counts.value = result.html()
        self._say(f"preview: {result.frames} frames, {result.fps:.1f} fps")
        return result

    def _document(self, uri: str) -> dict[str, Any]:
        settings = tuning_config.TunedSettings(
            self.camera, uri, self.lines, self.zones, self.classes, self.confidence
        )
        return tuning_config.experiment_document(self._base, self._camera_index, settings)

    # ----- reacting to changes -----------------------------------------------------------
    def _changed(self) -> None:
        self._counts = {}  # the last preview's counts belong to the old shapes
        if self.counts.value:
            self.counts.value = ""
        self._sync_picker()
        self._render()
        if self.editor.drag is None and (problems := self.editor.problems()):
            self._say(problems[0], error=True)

    def _render(self) -> None:
        editor = self.editor
        self._show(
            draw_shapes(
                self._frame, editor.lines, editor.zones, editor.selected, editor.pending,
                self._counts, self._annotator,
            )
        )  # fmt: skip

    def _show(self, image: Image) -> None:
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if ok:
            self.image.value = jpeg.tobytes()

    def _sync_picker(self) -> None:
        selected = self.editor.selected
        shapes = [(describe(s), s.name) for s in self.editor.shapes]
        key = (shapes, selected.name if selected else None, self.editor.mode)
        if key == self._synced:
            return  # most changes are drags: nothing for the controls to show
        self._synced = key
        self._syncing = True
        try:
            self.shape_picker.options = shapes
            self.shape_picker.value = selected.name if selected else None
            self.name_box.value = selected.name if selected else ""
            self.mode.value = self.editor.mode
        finally:
            self._syncing = False

    def _picked(self, _: object) -> None:
        if not self._syncing:
            self.editor.selected = self.editor.shape(self.shape_picker.value)
            self._changed()

    def _renamed(self, _: object) -> None:
        selected = self.editor.selected
        if self._syncing or selected is None:
            return
        try:
            self.editor.rename(selected, self.name_box.value.strip())
        finally:
            self._synced = None  # show the name the shape really has
            self._sync_picker()

    def _mode_changed(self, _: object) -> None:
        if not self._syncing:
            self._say(self.editor.set_mode(self.mode.value))

    def _reverse_selected(self) -> None:
        line = self.editor.selected
        if not isinstance(line, TunedLine):
            raise ValueError("select a line to reverse: zones have no direction")
        line.reverse()
        self._say(f"{describe(line)} reversed: the arrow shows the new in side")

    def _delete_selected(self) -> None:
        if self.editor.selected is None:
            raise ValueError("select a line or zone to delete first")
        self.editor.remove(self.editor.selected.name)

    # ----- the mouse -------------------------------------------------------------------
    def _point(self, event: dict[str, Any]) -> Point:
        # From where the image is on screen, not ipyevents' dataX/dataY: those scale by the
        # <img>'s natural size, which reads 0 while the browser decodes a redrawn frame.
        shown = (
            float(event.get("boundingRectWidth") or 0),
            float(event.get("boundingRectHeight") or 0),
        )
        if shown[0] > 0 and shown[1] > 0:
            x, y = float(event["relativeX"]) / shown[0], float(event["relativeY"]) / shown[1]
        else:
            width, height = frame_size(self._frame)
            x, y = float(event["dataX"]) / width, float(event["dataY"]) / height
        return (round(min(1.0, max(0.0, x)), 4), round(min(1.0, max(0.0, y)), 4))

    def _on_press(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "mousedown" and event.get("button", 0) == 0:
            self.editor.cancel()  # a drag whose mouseup fell outside the frame ends here
            self._say(self.editor.press(self._point(event)))
        elif kind in ("mouseup", "mouseleave") and self.editor.drag is not None:
            self._say(self.editor.release(self._point(event)))
            self._changed()

    def _on_move(self, event: dict[str, Any]) -> None:
        if self.editor.drag is not None:
            self.editor.move(self._point(event))


def _row(children: list[Any]) -> Any:
    """A row of controls that wraps on a narrow notebook instead of cutting labels off."""
    return w.HBox(children, layout=w.Layout(flex_flow="row wrap", align_items="center"))
