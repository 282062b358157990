# Pre- and post-processing of the fixed counting job in Mojo: input normalisation, NanoDet
# box decode, NMS, the IoU tracker and the line counter.
#
# Every rule and every floating-point step copies experiments/reference_job.py and the
# aistack code it calls (aistack/detect/nanodet.py, aistack/analytics/lines.py, and
# OpenCV's NMSBoxes, which aistack uses), including which steps run in Float32 and which in
# Float64, so that the counts agree exactly. Build with `--fp-mode contract=off`: Mojo fuses
# a*b+c into one FMA by default, which rounds differently from numpy's two steps.

from std.collections import Dict, List
from std.math import exp, hypot
from std.python import PythonObject

comptime BINS = 11  # reg_max = 10: each box side is a distribution over 0..10 strides
comptime F32 = Pointer[Float32, MutAnyOrigin]
comptime U8 = Pointer[UInt8, MutAnyOrigin]


@fieldwise_init
struct Box(Copyable, ImplicitlyCopyable, Movable):
    var x1: Float32
    var y1: Float32
    var x2: Float32
    var y2: Float32


@fieldwise_init
struct Detection(Copyable, ImplicitlyCopyable, Movable):
    var box: Box
    var score: Float32


def address(array: PythonObject) raises -> Int:
    """Where a C-contiguous numpy array keeps its data."""
    return Int(py=array.ctypes.data)


struct Level(Copyable, Movable):
    """One stride's outputs: scores [N, classes] (sigmoid) and box logits [N, 44].

    It holds the numpy arrays themselves, not just their addresses: Mojo destroys a value
    right after its last use, so an array known only by address would be freed (and its
    memory reused) while decode still reads it.
    """

    var score_array: PythonObject
    var bin_array: PythonObject
    var scores: Int
    var bins: Int
    var points: Int
    var classes: Int
    var stride: Float32
    var columns: Int

    def __init__(
        out self,
        score_array: PythonObject,
        bin_array: PythonObject,
        stride: Float32,
        columns: Int,
    ) raises:
        self.score_array = score_array
        self.bin_array = bin_array
        self.scores = address(score_array)
        self.bins = address(bin_array)
        self.points = Int(py=score_array.shape[1])
        self.classes = Int(py=score_array.shape[2])
        self.stride = stride
        self.columns = columns


def normalise(resized: PythonObject, blob: PythonObject, width: Int, height: Int) raises:
    """HxWx3 uint8 BGR `resized` → 1x3xHxW float32 `blob`, as NanoDetDetector does.

    float32(pixel × (1/std)) then + (−mean/std): two roundings, in that order. Both are
    C-contiguous numpy arrays, alive for the call because the caller lends them.
    """
    var mean = SIMD[DType.float32, 4](103.53, 116.28, 123.675, 0)
    var std = SIMD[DType.float32, 4](57.375, 57.12, 58.395, 1)
    var source = U8(unsafe_from_address=address(resized))
    var target = F32(unsafe_from_address=address(blob))
    var plane = width * height
    for c in range(3):
        var scale = Float32(1.0) / std[c]
        var offset = -mean[c] / std[c]
        for i in range(plane):
            var scaled = Float32(source[unsafe_offset=3 * i + c]) * scale
            target[unsafe_offset=c * plane + i] = scaled + offset


def _clamp(value: Float32, high: Float32) -> Float32:
    if value < 0:
        return 0
    if value > high:
        return high
    return value


def decode(
    levels: List[Level],
    class_id: Int,
    threshold: Float32,
    width: Int,
    height: Int,
    input_width: Int,
    input_height: Int,
) -> List[Detection]:
    """Boxes of `class_id` scoring ≥ threshold, in image pixels, in NanoDetDetector's order.

    That order (levels by stride 8, 16, 32, points by index) is what NMS breaks ties by.
    """
    # numpy computes width / 416 in Float64, then stores it as Float32.
    var sx = Float32(Float64(width) / Float64(input_width))
    var sy = Float32(Float64(height) / Float64(input_height))
    var fw = Float32(width)
    var fh = Float32(height)
    var found = List[Detection]()
    for level in levels:
        var scores = F32(unsafe_from_address=level.scores)
        var bins = F32(unsafe_from_address=level.bins)
        for n in range(level.points):
            var score = scores[unsafe_offset=n * level.classes + class_id]
            if not (score >= threshold):
                continue
            var distance = SIMD[DType.float32, 4](0)
            for side in range(4):
                var first = (n * 4 + side) * BINS
                var top = bins[unsafe_offset=first]
                for i in range(1, BINS):
                    top = max(top, bins[unsafe_offset=first + i])
                var weighted: Float32 = 0
                var total: Float32 = 0
                for i in range(BINS):
                    # softmax without overflow
                    var w = exp(bins[unsafe_offset=first + i] - top)
                    weighted += w * Float32(i)
                    total += w
                distance[side] = weighted / total * level.stride
            var cx = (Float32(n % level.columns) + 0.5) * level.stride
            var cy = (Float32(n // level.columns) + 0.5) * level.stride
            var box = Box(
                _clamp((cx - distance[0]) * sx, fw),
                _clamp((cy - distance[1]) * sy, fh),
                _clamp((cx + distance[2]) * sx, fw),
                _clamp((cy + distance[3]) * sy, fh),
            )
            found.append(Detection(box, score))
    return found^


@fieldwise_init
struct _Rect(Copyable, ImplicitlyCopyable, Movable):
    """OpenCV's Rect2d: x, y, width, height in Float64."""

    var x: Float64
    var y: Float64
    var width: Float64
    var height: Float64


def _intersection_area(a: _Rect, b: _Rect) -> Float64:
    """Area of OpenCV's `a & b` for Rect2d, with its operation order."""
    if a.width <= 0 or a.height <= 0 or b.width <= 0 or b.height <= 0:
        return 0
    var x_min = a if a.x < b.x else b
    var x_max = b if a.x < b.x else a
    var y_min = a if a.y < b.y else b
    var y_max = b if a.y < b.y else a
    if (x_min.x < 0 and x_min.x + x_min.width < x_max.x) or (
        y_min.y < 0 and y_min.y + y_min.height < y_max.y
    ):
        return 0
    var width = min(x_min.width - (x_max.x - x_min.x), x_max.width)
    var height = min(y_min.height - (y_max.y - y_min.y), y_max.height)
    if width <= 0 or height <= 0:
        return 0
    return width * height


def _overlap(a: _Rect, b: _Rect) -> Float32:
    """OpenCV's rectOverlap: 1 − Float32(Jaccard distance)."""
    var area_a = a.width * a.height
    var area_b = b.width * b.height
    var distance: Float64 = 0
    if area_a + area_b > 2.220446049250313e-16:  # DBL_EPSILON, as OpenCV checks
        var inter = _intersection_area(a, b)
        distance = 1.0 - inter / (area_a + area_b - inter)
    return Float32(1.0) - Float32(distance)


def suppress(candidates: List[Detection], iou: Float32) -> List[Detection]:
    """Class-agnostic NMS exactly as cv::dnn::NMSBoxes on Rect2d, best score first.

    Width and height are Float32 differences, as numpy computes them before the call.
    """
    var rects = List[_Rect]()
    var order = List[Int]()  # indices into candidates, stably sorted by score below
    for i in range(len(candidates)):
        var b = candidates[i].box
        var w = b.x2 - b.x1
        var h = b.y2 - b.y1
        if not (w > 0 and h > 0):
            rects.append(_Rect(0, 0, 0, 0))
            continue
        rects.append(_Rect(Float64(b.x1), Float64(b.y1), Float64(w), Float64(h)))
        order.append(i)
    # Insertion sort is stable, like OpenCV's std::stable_sort; lists are short.
    for i in range(1, len(order)):
        var item = order[i]
        var j = i - 1
        while j >= 0 and candidates[order[j]].score < candidates[item].score:
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = item
    var kept = List[Int]()
    for index in order:
        var keep = True
        for k in kept:
            if not (_overlap(rects[index], rects[k]) <= iou):
                keep = False
                break
        if keep:
            kept.append(index)
    var result = List[Detection]()
    for k in kept:
        result.append(candidates[k])
    return result^


def box_iou(a: Box, b: Box) -> Float64:
    """IoU in Float64, in the operation order of reference_job.box_iou."""
    var ax1 = Float64(a.x1)
    var ay1 = Float64(a.y1)
    var ax2 = Float64(a.x2)
    var ay2 = Float64(a.y2)
    var bx1 = Float64(b.x1)
    var by1 = Float64(b.y1)
    var bx2 = Float64(b.x2)
    var by2 = Float64(b.y2)
    var width = max(0.0, min(ax2, bx2) - max(ax1, bx1))
    var height = max(0.0, min(ay2, by2) - max(ay1, by1))
    var inter = width * height
    var union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0.0 else 0.0


@fieldwise_init
struct _Track(Copyable, ImplicitlyCopyable, Movable):
    var id: Int
    var box: Box
    var missed: Int


@fieldwise_init
struct _Pair(Copyable, ImplicitlyCopyable, Movable):
    var iou: Float64
    var track: Int
    var detection: Int

    def before(self, other: _Pair) -> Bool:
        """Highest IoU first; ties: older track, then earlier detection."""
        if self.iou != other.iou:
            return self.iou > other.iou
        if self.track != other.track:
            return self.track < other.track
        return self.detection < other.detection


struct IouTracker(Movable):
    """The greedy IoU tracker of reference_job.IouTracker, rule for rule."""

    var match_iou: Float64
    var max_missed: Int
    var tracks: List[_Track]
    var next_id: Int

    def __init__(out self, match_iou: Float64, max_missed: Int):
        self.match_iou = match_iou
        self.max_missed = max_missed
        self.tracks = List[_Track]()
        self.next_id = 1

    def update(mut self, detections: List[Detection]) -> List[Int]:
        """The track id of each detection, in the detections' order."""
        var pairs = List[_Pair]()
        for t in range(len(self.tracks)):
            for d in range(len(detections)):
                var iou = box_iou(self.tracks[t].box, detections[d].box)
                if iou >= self.match_iou:
                    pairs.append(_Pair(iou, t, d))
        for i in range(1, len(pairs)):
            var item = pairs[i]
            var j = i - 1
            while j >= 0 and item.before(pairs[j]):
                pairs[j + 1] = pairs[j]
                j -= 1
            pairs[j + 1] = item
        var ids = List[Int](length=len(detections), fill=0)
        var matched = List[Bool](length=len(self.tracks), fill=False)
        for pair in pairs:
            if matched[pair.track] or ids[pair.detection] != 0:
                continue
            matched[pair.track] = True
            self.tracks[pair.track].box = detections[pair.detection].box
            self.tracks[pair.track].missed = 0
            ids[pair.detection] = self.tracks[pair.track].id
        var survivors = List[_Track]()
        for t in range(len(self.tracks)):
            if not matched[t]:
                self.tracks[t].missed += 1
                if self.tracks[t].missed >= self.max_missed:
                    continue
            survivors.append(self.tracks[t])
        for d in range(len(detections)):
            if ids[d] != 0:
                continue
            ids[d] = self.next_id
            survivors.append(_Track(self.next_id, detections[d].box, 0))
            self.next_id += 1
        self.tracks = survivors^
        return ids^


@fieldwise_init
struct _TrackSide(Copyable, ImplicitlyCopyable, Movable):
    var side: Int  # confirmed side: -1, +1, or 0 while unknown
    var candidate: Int
    var candidate_frames: Int
    var counted_in: Bool
    var counted_out: Bool
    var last_seen: Int


struct LineCounter(Movable):
    """aistack.analytics.lines.LineCounter for one class, rule for rule.

    Bottom-centre anchor, hysteresis band max(min_distance, fraction × box height) in
    Float32 as numpy keeps it, min_frames clear observations, the first clear sighting sets
    the side, only changes within the segment count, once per direction per track.
    """

    var x1: Float64
    var y1: Float64
    var x2: Float64
    var y2: Float64
    var min_distance: Float32
    var fraction: Float32
    var min_frames: Int
    var forget_after: Int
    var tracks: Dict[Int, _TrackSide]
    var total_in: Int
    var total_out: Int

    def __init__(
        out self,
        x1: Float64,
        y1: Float64,
        x2: Float64,
        y2: Float64,
        min_distance: Float32,
        fraction: Float32,
        min_frames: Int,
        forget_after: Int = 300,
    ):
        self.x1 = x1
        self.y1 = y1
        self.x2 = x2
        self.y2 = y2
        self.min_distance = min_distance
        self.fraction = fraction
        self.min_frames = min_frames
        self.forget_after = forget_after
        self.tracks = Dict[Int, _TrackSide]()
        self.total_in = 0
        self.total_out = 0

    def update(mut self, detections: List[Detection], ids: List[Int], frame_index: Int) raises:
        var dx = self.x2 - self.x1
        var dy = self.y2 - self.y1
        var length = hypot(dx, dy)
        for i in range(len(detections)):
            var b = detections[i].box
            var px = Float64(b.x1) + 0.5 * (Float64(b.x2) - Float64(b.x1))
            var py = Float64(b.y1) + 1.0 * (Float64(b.y2) - Float64(b.y1))
            var distance = (dx * (py - self.y1) - dy * (px - self.x1)) / length
            var band = max(self.min_distance, self.fraction * (b.y2 - b.y1))
            var observed = 0
            if distance > Float64(band):
                observed = 1
            elif distance < -Float64(band):
                observed = -1
            var position = ((px - self.x1) * dx + (py - self.y1) * dy) / (dx * dx + dy * dy)
            var within = position >= 0.0 and position <= 1.0

            var track_id = ids[i]
            if track_id not in self.tracks:
                self.tracks[track_id] = _TrackSide(0, 0, 0, False, False, frame_index)
            var state = self.tracks[track_id]
            state.last_seen = frame_index
            self._observe(state, observed, within)
            self.tracks[track_id] = state
        var stale = List[Int]()
        for item in self.tracks.items():
            if frame_index - item.value.last_seen > self.forget_after:
                stale.append(item.key)
        for track_id in stale:
            _ = self.tracks.pop(track_id)

    def _observe(mut self, mut state: _TrackSide, observed: Int, within: Bool):
        if observed == 0:
            return  # inside the band: no evidence either way
        if state.side == 0:
            state.side = observed  # the first clear sighting sets the side, counts nothing
            return
        if observed == state.side:
            state.candidate = 0
            state.candidate_frames = 0
            return
        if observed != state.candidate:
            state.candidate = observed
            state.candidate_frames = 0
        state.candidate_frames += 1
        if state.candidate_frames < self.min_frames:
            return
        state.side = observed
        state.candidate = 0
        state.candidate_frames = 0
        if not within:
            return
        if observed > 0 and not state.counted_in:
            state.counted_in = True
            self.total_in += 1
        elif observed < 0 and not state.counted_out:
            state.counted_out = True
            self.total_out += 1
