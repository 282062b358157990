# The fixed counting job in Mojo. Prints {"frames","in","out","fps","cpu_percent",
# "peak_rss_mb"} like experiments/reference_job.py, whose rules it copies (see job.mojo).
#
#   count [--video PATH] [--model PATH] [--frames N] [--threads N] [--trace PATH]
#
# What runs where: normalisation, box decode, NMS, tracking and counting are Mojo (job.mojo).
# Video decoding and the resize are OpenCV, and the network is onnxruntime, both called
# through Mojo's Python interop on the same numpy buffers: Mojo reads and writes their
# memory directly, nothing is copied through Python objects. Mojo's standard library has
# no ONNX runtime (the separate MAX framework was not tried), and onnxruntime keeps the
# network identical to the reference's, so any difference in counts would be Mojo's.
#
# Build: mojo build --fp-mode contract=off -I experiments/mojo experiments/mojo/count.mojo
# Run with the project's venv first on PATH, so the interop finds its cv2 and onnxruntime.

from std.collections import List
from std.math import sqrt
from std.python import Python, PythonObject
from std.sys import argv
from std.time import perf_counter_ns

from job import IouTracker, Level, LineCounter, decode, normalise, suppress

comptime INPUT = 416
comptime PERSON = 0
comptime CONFIDENCE: Float32 = 0.3
comptime NMS_IOU: Float32 = 0.6
comptime MATCH_IOU: Float64 = 0.3
comptime MAX_MISSED = 10


def levels_of(outputs: PythonObject) raises -> List[Level]:
    """Pair score [1, N, 80] and box [1, N, 44] outputs by N, most points (stride 8) first.

    Each level holds its two arrays, so they live as long as it does.
    """
    var levels = List[Level]()
    for i in range(len(outputs)):
        var scores = outputs[i]
        if Int(py=scores.shape[2]) != 80:
            continue
        var points = Int(py=scores.shape[1])
        for j in range(len(outputs)):
            var bins = outputs[j]
            if Int(py=bins.shape[2]) != 44 or Int(py=bins.shape[1]) != points:
                continue
            var stride = Float32(sqrt(Float64(INPUT * INPUT) / Float64(points)))
            var columns = Int(Float32(INPUT) / stride + 0.5)
            levels.append(Level(scores, bins, stride, columns))
    if len(levels) != 3:
        raise Error("outputs are not NanoDet's three score/box pairs")
    for i in range(1, len(levels)):  # by point count, descending
        var j = i
        while j > 0 and levels[j - 1].points < levels[j].points:
            levels.swap_elements(j - 1, j)
            j -= 1
    return levels^


def main() raises:
    var video = String("aistack/data/vtest.mp4")
    var model = String("aistack/models/nanodet.onnx")
    var frames = -1
    var threads = 2
    var trace_path = String("")
    var args = argv()
    var i = 1
    while i < len(args):
        var flag = String(args[i])
        if i + 1 >= len(args):
            raise Error("missing value after " + flag)
        var value = String(args[i + 1])
        if flag == "--video":
            video = value
        elif flag == "--model":
            model = value
        elif flag == "--frames":
            frames = atol(value)
        elif flag == "--threads":
            threads = atol(value)
        elif flag == "--trace":
            trace_path = value
        else:
            raise Error("unknown option " + flag)
        i += 2

    var np = Python.import_module("numpy")
    var cv2 = Python.import_module("cv2")
    var ort = Python.import_module("onnxruntime")
    var resource = Python.import_module("resource")

    # The session options of aistack's NanoDetDetector, so the network runs the same way.
    cv2.setNumThreads(threads)
    var options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    var providers = Python.list()
    providers.append("CPUExecutionProvider")
    var session = ort.InferenceSession(model, options, providers=providers)
    var input_name = session.get_inputs()[0].name

    var capture = cv2.VideoCapture(video)
    if not Bool(py=capture.isOpened()):
        raise Error("cannot open " + video)
    var size = Python.tuple(INPUT, INPUT)
    var blob = np.empty(Python.list(1, 3, INPUT, INPUT), dtype=np.float32)
    var feed = Python.dict()
    feed[input_name] = blob
    var tracker = IouTracker(MATCH_IOU, MAX_MISSED)
    var counter = LineCounter(476.16, 460.8, 476.16, 172.8, 2.0, 0.08, 2)
    var write_trace = trace_path != ""
    var trace = open(trace_path if write_trace else "/dev/null", "w")

    var index = 0
    var usage_start = resource.getrusage(resource.RUSAGE_SELF)
    var start = perf_counter_ns()
    while frames < 0 or index < frames:
        var read = capture.read()
        if not Bool(py=read[0]):
            break
        var image = read[1]
        var width = Int(py=image.shape[1])
        var height = Int(py=image.shape[0])
        var resized = np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_LINEAR))
        normalise(resized, blob, INPUT, INPUT)
        var outputs = Python.list()
        for output in session.run(Python.none(), feed):
            outputs.append(np.ascontiguousarray(output, dtype=np.float32))
        var levels = levels_of(outputs)
        var candidates = decode(levels, PERSON, CONFIDENCE, width, height, INPUT, INPUT)
        var detections = suppress(candidates, NMS_IOU)
        var ids = tracker.update(detections)
        counter.update(detections, ids, index)
        if write_trace:
            for d in range(len(detections)):
                # Float64: Mojo's shortest Float32 text does not always read back exactly.
                var b = detections[d].box
                trace.write(index, " ", ids[d], " ", Float64(b.x1), " ", Float64(b.y1), " ")
                trace.write(Float64(b.x2), " ", Float64(b.y2), " ", Float64(detections[d].score))
                trace.write("\n")
        index += 1
    var wall = Float64(perf_counter_ns() - start) / 1e9
    var usage = resource.getrusage(resource.RUSAGE_SELF)
    trace.close()
    capture.release()

    var cpu = (
        Float64(py=usage.ru_utime)
        - Float64(py=usage_start.ru_utime)
        + Float64(py=usage.ru_stime)
        - Float64(py=usage_start.ru_stime)
    )
    var builtins = Python.import_module("builtins")
    var result = Python.dict()
    result["frames"] = index
    result["in"] = counter.total_in
    result["out"] = counter.total_out
    result["fps"] = builtins.round(Float64(index) / wall if wall > 0 else 0.0, 2)
    result["cpu_percent"] = builtins.round(100.0 * cpu / wall if wall > 0 else 0.0, 1)
    # Linux reports KiB. The process holds the Python interpreter too, as it must.
    result["peak_rss_mb"] = builtins.round(Float64(py=usage.ru_maxrss) / 1024.0, 1)
    print(Python.import_module("json").dumps(result))
