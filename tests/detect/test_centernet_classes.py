"""CenterNet cut to the classes counted: the same heat maps and boxes from a smaller graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from aistack.detect.centernet import CenterNetDetector
from aistack.errors import ModelError
from aistack.models import bundled_model_path
from aistack.types import Image
from tests.detect.test_nanodet import PEOPLE, people_frames

onnx = pytest.importorskip("onnx", reason="cutting the graph needs the onnx package")

from aistack.models.graph_edits import CENTERNET_HEAT, centernet_classes  # noqa: E402

TRAFFIC_AND_PEOPLE = [0, 1, 2, 3, 5, 7]  # person, bicycle, car, motorcycle, bus, truck
FOUR = [0, 2, 5, 7]  # as many heat maps as box sides: the outputs are told apart by name


class WholeGraph(CenterNetDetector):
    """The detector as it was before the cut: every class's heat map, chosen ones decoded."""

    def _keep_chosen(self, model: Any) -> Any:
        return model


@pytest.fixture(scope="module")
def frame() -> Image:
    frames = people_frames()
    return frames[max(PEOPLE, key=lambda index: len(PEOPLE[index]))]


def _heat(model: Any, frame: Image) -> np.ndarray:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    blob = np.ascontiguousarray(frame[:448, :768, ::-1], np.float32)[None]
    (heat,) = session.run([CENTERNET_HEAT], {session.get_inputs()[0].name: blob})
    return np.asarray(heat)


@pytest.mark.parametrize("channels", [TRAFFIC_AND_PEOPLE, FOUR, [0]])
def test_the_cut_graph_gives_the_chosen_classes_heat_maps(
    frame: Image, channels: list[int]
) -> None:
    whole = onnx.load(str(bundled_model_path("centernet")))
    cut = centernet_classes(whole, channels)
    full_heat = _heat(whole.SerializeToString(), frame)
    cut_heat = _heat(cut.SerializeToString(), frame)
    assert full_heat.shape[-1] == 80 and cut_heat.shape[-1] == len(channels)
    np.testing.assert_allclose(cut_heat, full_heat[..., channels], rtol=0, atol=1e-6)
    assert cut_heat.max() > 0.5  # real people in the frame: the maps are not blank


@pytest.mark.parametrize("classes", [TRAFFIC_AND_PEOPLE, FOUR])
def test_the_detector_runs_the_cut_graph_and_finds_the_same_boxes(
    frame: Image, classes: list[int]
) -> None:
    cut = CenterNetDetector(classes=classes, input_size=448, threads=2)
    whole = WholeGraph(classes=classes, input_size=448, threads=2)
    heat = {o.name: o.shape[-1] for o in cut._session.get_outputs()}[CENTERNET_HEAT]
    assert heat == len(classes)
    assert {o.name: o.shape[-1] for o in whole._session.get_outputs()}[CENTERNET_HEAT] == 80
    found, expected = cut.detect([frame])[0], whole.detect([frame])[0]
    assert len(found) >= len(PEOPLE[max(PEOPLE, key=lambda i: len(PEOPLE[i]))]) // 2
    np.testing.assert_array_equal(found.class_id, expected.class_id)
    np.testing.assert_allclose(found.xyxy, expected.xyxy, atol=1e-3)
    np.testing.assert_allclose(found.confidence, expected.confidence, atol=1e-6)


def test_every_class_runs_the_whole_graph_and_other_graphs_are_refused(tmp_path: Path) -> None:
    every = CenterNetDetector(threads=1)
    assert {o.name: o.shape[-1] for o in every._session.get_outputs()}[CENTERNET_HEAT] == 80
    with pytest.raises(ValueError, match="not the converted CenterNet"):
        centernet_classes(onnx.load(str(bundled_model_path("nanodet"))), [0])
    # Through the detector, with classes to cut to: the same one-line errors as without.
    with pytest.raises(ModelError, match="CenterNet input"):
        CenterNetDetector(model_path=bundled_model_path("nanodet"), classes=[0])
    corrupt = tmp_path / "centernet.onnx"
    corrupt.write_bytes(bundled_model_path("centernet").read_bytes()[:5000])
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        CenterNetDetector(model_path=corrupt, classes=[0])
