"""Real-pixel sprites (people from vtest.mp4, a bus from ultralytics' bus.jpg) and the background.

Every crop is a hand-chosen constant, so the sprites' boxes, and with them the
ground truth, depend only on this file, never on how a video happens to decode.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Alpha = npt.NDArray[np.float32]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)

VTEST = Path(__file__).resolve().parents[2] / "aistack" / "data" / "vtest.mp4"
BACKGROUND_STEP = 16  # median over every 16th frame of vtest: 50 frames, people gone
PAD = 6  # pixels of context cut around each box, faded out by the feathered mask
FEATHER_SIGMA = 1.2
FOREGROUND_THRESHOLD = 28  # max-channel |frame − median| that counts as person
MAX_HOLE_AREA = 40  # px; larger holes in a silhouette are background (between the legs)


class SpriteUnavailableError(RuntimeError):
    """A sprite's source image is not installed; the message says what to install."""


@dataclass(frozen=True)
class PersonCrop:
    """One whole, upright, isolated person in vtest.mp4: frame index and tight box."""

    frame: int
    box: Box
    look: str


# Chosen by looking at the frames: nobody else within the padded box, feet and
# head inside it. Boxes are the person's silhouette against the median background.
PERSON_CROPS: dict[str, PersonCrop] = {
    "man_glasses": PersonCrop(200, (616, 264, 652, 371), "facing the camera, jeans"),
    "man_dark_jacket": PersonCrop(250, (595, 254, 643, 357), "side view, black trousers"),
    "man_back_jeans": PersonCrop(475, (634, 284, 686, 409), "seen from behind, jeans"),
    "man_red_jacket": PersonCrop(550, (169, 368, 226, 513), "red and black jacket, on grass"),
    "woman_black_coat": PersonCrop(625, (359, 406, 413, 558), "blonde, black coat, on grass"),
    "walker_black": PersonCrop(0, (638, 240, 686, 326), "mid-stride, all black, small"),
    "man_jacket_jeans": PersonCrop(225, (529, 284, 582, 401), "side view, jeans"),
}

# The clean side of the bus in bus.jpg (810x1080): the people in front of its
# nose and tail are outside this box; two pavement bollards overlap its bottom.
BUS_BOX: Box = (348, 238, 722, 712)
# Where the pavement starts under the bus, left to right; below it is cut away.
BUS_BOTTOM_EDGE: tuple[tuple[int, int], ...] = ((348, 712), (430, 703), (600, 688), (722, 676))


@dataclass(frozen=True)
class Sprite:
    """A cut-out: BGR pixels, a feathered alpha mask, and the object's box inside them."""

    name: str
    class_name: str
    image: Image
    alpha: Alpha
    box: Box

    @property
    def size(self) -> tuple[int, int]:
        """The object's (width, height) in pixels: the ground-truth box size."""
        return self.box[2] - self.box[0], self.box[3] - self.box[1]

    def mirrored(self) -> Sprite:
        width = self.image.shape[1]
        x0, y0, x1, y1 = self.box
        return Sprite(
            self.name,
            self.class_name,
            np.ascontiguousarray(self.image[:, ::-1]),
            np.ascontiguousarray(self.alpha[:, ::-1]),
            (width - x1, y0, width - x0, y1),
        )

    def scaled(self, factor: float) -> Sprite:
        if factor == 1.0:
            return self
        w, h = scaled_size(self.size, factor)
        pad = round(PAD * factor)
        size = (w + 2 * pad, h + 2 * pad)
        interpolation = cv2.INTER_AREA if factor < 1.0 else cv2.INTER_LINEAR
        image = _u8(cv2.resize(self.image, size, interpolation=interpolation))
        alpha = np.asarray(cv2.resize(self.alpha, size, interpolation=cv2.INTER_LINEAR), np.float32)
        return Sprite(self.name, self.class_name, image, alpha, (pad, pad, pad + w, pad + h))


def _u8(array: object) -> Image:
    return np.asarray(array, dtype=np.uint8)


def scaled_size(size: tuple[int, int], factor: float) -> tuple[int, int]:
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


def sprite_class(name: str) -> str:
    if name in PERSON_CROPS:
        return "person"
    if name == "bus":
        return "bus"
    raise KeyError(f"unknown sprite {name!r}; known: {', '.join(SPRITE_NAMES)}")


def sprite_size(name: str) -> tuple[int, int]:
    """The object's (width, height) at scale 1, from the constants alone (no pixels read)."""
    sprite_class(name)
    x0, y0, x1, y1 = PERSON_CROPS[name].box if name in PERSON_CROPS else BUS_BOX
    return x1 - x0, y1 - y0


SPRITE_NAMES: tuple[str, ...] = (*PERSON_CROPS, "bus")


def load_sprite(name: str) -> Sprite:
    """The named sprite at its native size; raises SpriteUnavailableError for a missing source."""
    if sprite_class(name) == "bus":
        return _bus_sprite()
    return _person_sprite(name)


@functools.cache
def _vtest_frames() -> tuple[Image, dict[int, Image]]:
    """The per-pixel median of vtest (people removed) and the frames the person crops use."""
    if not VTEST.is_file():
        raise SpriteUnavailableError(f"{VTEST} is missing; the people sprites are cut from it")
    wanted = {crop.frame for crop in PERSON_CROPS.values()}
    capture = cv2.VideoCapture(str(VTEST))
    samples: list[Image] = []
    frames: dict[int, Image] = {}
    index = 0
    try:
        while True:
            if not capture.grab():
                break
            if index % BACKGROUND_STEP == 0 or index in wanted:
                ok, image = capture.retrieve()
                if not ok:
                    break
                if index % BACKGROUND_STEP == 0:
                    samples.append(_u8(image))
                if index in wanted:
                    frames[index] = _u8(image)
            index += 1
    finally:
        capture.release()
    missing = wanted - frames.keys()
    if len(samples) < 5 or missing:
        raise SpriteUnavailableError(
            f"{VTEST}: decoded {index} frames, missing crop frames {sorted(missing)}"
        )
    median = np.median(np.stack(samples), axis=0).astype(np.uint8)
    return median, frames


def background(width: int, height: int) -> Image:
    """vtest's empty scene (the per-pixel median over its frames), resized to width×height."""
    median, _ = _vtest_frames()
    return _u8(cv2.resize(median, (width, height), interpolation=cv2.INTER_AREA))


def _feather(mask: npt.NDArray[np.uint8]) -> Alpha:
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), FEATHER_SIGMA)
    return np.clip(alpha, 0.0, 1.0).astype(np.float32)


@functools.cache
def _person_sprite(name: str) -> Sprite:
    crop = PERSON_CROPS[name]
    median, frames = _vtest_frames()
    x0, y0, x1, y1 = crop.box
    window = (slice(y0 - PAD, y1 + PAD), slice(x0 - PAD, x1 + PAD))
    image = np.ascontiguousarray(frames[crop.frame][window])
    # The silhouette is where the frame differs from the empty scene.
    diff = cv2.absdiff(
        cv2.GaussianBlur(image, (3, 3), 0), cv2.GaussianBlur(median[window], (3, 3), 0)
    )
    mask = (diff.max(axis=2) > FOREGROUND_THRESHOLD).astype(np.uint8)
    mask = cv2.morphologyEx(
        mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    )
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    if count < 2:
        raise SpriteUnavailableError(
            f"{VTEST}: no person found in frame {crop.frame} at {crop.box}"
        )
    mask = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    # Fill small holes (low-contrast clothing) but not the gap between the legs.
    holes, hole_labels, hole_stats, _ = cv2.connectedComponentsWithStats(1 - mask, connectivity=4)
    for label in range(1, holes):
        x, y, w, h, area = hole_stats[label]
        touches_edge = x == 0 or y == 0 or x + w == mask.shape[1] or y + h == mask.shape[0]
        if not touches_edge and area <= MAX_HOLE_AREA:
            mask[hole_labels == label] = 1
    # The diff's blur and closing leave a rim of the old background; shave it off.
    mask = _u8(cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))))
    box_only = np.zeros_like(mask)
    box_only[PAD : PAD + y1 - y0, PAD : PAD + x1 - x0] = 1
    mask &= box_only  # so the pasted pixels never reach past the ground-truth box
    return Sprite(name, "person", image, _feather(mask), (PAD, PAD, PAD + x1 - x0, PAD + y1 - y0))


def bus_image_path() -> Path:
    """ultralytics' bundled bus.jpg, the file `ultralytics.utils.ASSETS / "bus.jpg"`.

    Found through the package spec, so that torch is not imported just for a picture.
    """
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise SpriteUnavailableError(
            "the bus sprite is cut from ultralytics' bundled bus.jpg: pip install ultralytics"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "bus.jpg"
    if not path.is_file():
        raise SpriteUnavailableError(f"ultralytics is installed but {path} is missing")
    return path


@functools.cache
def _bus_sprite() -> Sprite:
    path = bus_image_path()
    picture = cv2.imread(str(path))
    if picture is None:
        raise SpriteUnavailableError(f"{path}: not a readable image")
    x0, y0, x1, y1 = BUS_BOX
    image = _u8(np.ascontiguousarray(picture[y0 - PAD : y1 + PAD, x0 - PAD : x1 + PAD]))
    outline = [(x0, y0), (x1, y0), *reversed(BUS_BOTTOM_EDGE)]
    polygon = np.array([(x - x0 + PAD, y - y0 + PAD) for x, y in outline], np.int32)
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [polygon], 1)
    return Sprite("bus", "bus", image, _feather(mask), (PAD, PAD, PAD + x1 - x0, PAD + y1 - y0))
