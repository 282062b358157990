"""Run the fixed counting job in Python, C++ and Mojo on the same clip and check they agree.

    python experiments/compare.py [--frames N] [--repeat R] [--threads T]

It builds experiments/cpp (cmake, into build/cpp) and experiments/mojo (`mojo build`, into
build/mojo), runs experiments/reference_job.py and both programs, fails unless all three
give the same in/out counts, and writes experiments/bench/languages.json and .md.

Besides the counts it compares, per tracked box, each port's trace with the reference's
(same track ids? how far apart are the boxes?), and the raw network outputs of OpenCV's
DNN with onnxruntime's on the same input. Mojo is found as $MOJO, then `mojo` on PATH, then
next to this Python; without it the run fails, unless `--only python,cpp` leaves it out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
VIDEO = ROOT / "aistack" / "data" / "vtest.mp4"
MODEL = ROOT / "aistack" / "models" / "nanodet.onnx"
BENCH = EXPERIMENTS / "bench"
NAMES = ("python", "cpp", "mojo")
CPP_MISSING = "needs cmake, g++ and Debian's libopencv-dev: apt-get install cmake g++ libopencv-dev"
MOJO_MISSING = "needs the Mojo compiler: pip install mojo (about 700 MB), or set $MOJO to it"


class BuildError(RuntimeError):
    """A build failed; the message carries the compiler's output."""


class ToolchainMissing(BuildError):
    """cmake, g++, libopencv-dev or mojo is not installed; the message says how to get it."""


@dataclass(frozen=True)
class Implementation:
    name: str
    label: str
    inference: str  # what runs the network, said plainly
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)


def _run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def build_cpp(build_dir: Path = ROOT / "build" / "cpp") -> tuple[Path, float]:
    """Configure and build experiments/cpp; the binary and the seconds it took."""
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        raise ToolchainMissing(f"C++ counter {CPP_MISSING}")
    start = time.perf_counter()
    configure = _run(["cmake", "-S", str(EXPERIMENTS / "cpp"), "-B", str(build_dir)])
    if configure.returncode != 0:
        if "OpenCV" in configure.stdout + configure.stderr:
            raise ToolchainMissing(f"C++ counter {CPP_MISSING}\n{configure.stderr[-1000:]}")
        raise BuildError(f"cmake configure failed:\n{configure.stderr[-2000:]}")
    build = _run(["cmake", "--build", str(build_dir), "-j", str(os.cpu_count() or 1)])
    if build.returncode != 0:
        raise BuildError(f"C++ build failed:\n{build.stdout[-3000:]}{build.stderr[-2000:]}")
    return build_dir / "count", time.perf_counter() - start


def find_mojo() -> Path | None:
    """The Mojo compiler: $MOJO, `mojo` on PATH, or the one installed beside this Python."""
    candidates = [
        os.environ.get("MOJO"),
        shutil.which("mojo"),
        Path(sys.executable).parent / "mojo",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def build_mojo(build_dir: Path = ROOT / "build" / "mojo") -> tuple[Path, float]:
    """Compile experiments/mojo/count.mojo; the binary and the seconds it took."""
    mojo = find_mojo()
    if mojo is None:
        raise ToolchainMissing(f"Mojo counter {MOJO_MISSING}")
    build_dir.mkdir(parents=True, exist_ok=True)
    binary = build_dir / "count"
    source = EXPERIMENTS / "mojo"
    start = time.perf_counter()
    # contract=off: no FMA, so Float32 steps round like numpy's (see job.mojo).
    command = [str(mojo), "build", "--fp-mode", "contract=off", "-I", str(source)]
    result = _run([*command, str(source / "count.mojo"), "-o", str(binary)])
    if result.returncode != 0:
        raise BuildError(f"Mojo build failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    return binary, time.perf_counter() - start


def mojo_env() -> dict[str, str]:
    """The environment for the Mojo binary: its Python interop must load this venv's
    numpy, cv2 and onnxruntime, and Mojo finds Python as the first `python3` on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def implementations(cpp: Path | None, mojo: Path | None) -> list[Implementation]:
    import cv2
    import onnxruntime

    found = [
        Implementation(
            "python",
            "Python (aistack)",
            f"onnxruntime {onnxruntime.__version__}",
            [sys.executable, str(EXPERIMENTS / "reference_job.py")],
        )
    ]
    if cpp is not None:
        found.append(Implementation("cpp", "C++", "OpenCV 4.6 DNN (Debian)", [str(cpp)]))
    if mojo is not None:
        found.append(
            Implementation(
                "mojo",
                "Mojo",
                f"onnxruntime {onnxruntime.__version__} via Python interop "
                f"(video + resize: cv2 {cv2.__version__} via interop)",
                [str(mojo), "--model", str(MODEL)],
                mojo_env(),
            )
        )
    return found


def run_job(
    job: Implementation, frames: int | None, threads: int, trace: Path | None = None
) -> dict[str, Any]:
    """Run one implementation; its JSON result (the last line it prints)."""
    command = [*job.command, "--threads", str(threads), "--video", str(VIDEO)]
    if frames is not None:
        command += ["--frames", str(frames)]
    if trace is not None:
        command += ["--trace", str(trace)]
    result = _run(command, job.env or None)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(
            f"{job.name} failed (exit {result.returncode}): {' '.join(command)}\n"
            f"{result.stdout[-2000:]}{result.stderr[-3000:]}"
        )
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed


def read_trace(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(frame, track id) pairs and (x1, y1, x2, y2, score) as float32, one row per box."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    keys = np.array([[int(r[0]), int(r[1])] for r in rows], np.int64).reshape(-1, 2)
    values = np.array([[float(v) for v in r[2:7]] for r in rows], np.float32).reshape(-1, 5)
    return keys, values


def compare_traces(reference: Path, other: Path) -> dict[str, Any]:
    """How closely a port's tracked boxes follow the reference's."""
    ref_keys, ref_values = read_trace(reference)
    keys, values = read_trace(other)
    summary: dict[str, Any] = {"boxes": len(ref_keys), "port_boxes": len(keys)}
    if ref_keys.shape != keys.shape or not (ref_keys == keys).all():
        frames = sorted(set(map(tuple, ref_keys.tolist())) ^ set(map(tuple, keys.tolist())))
        summary["same_boxes_and_ids"] = False
        summary["first_differences"] = [list(f) for f in frames[:10]]
        return summary
    difference = np.abs(ref_values - values)
    summary.update(
        same_boxes_and_ids=True,
        max_box_diff_px=float(difference[:, :4].max(initial=0.0)),
        max_score_diff=float(difference[:, 4].max(initial=0.0)),
        bit_identical_boxes=int((difference[:, :4].max(axis=1, initial=0.0) == 0).sum()),
    )
    return summary


def _python_blob() -> np.ndarray:
    """Frame 0 as aistack feeds it to NanoDet: stretched, BGR, (pixel - mean) / std."""
    import cv2

    capture = cv2.VideoCapture(str(VIDEO))
    ok, image = capture.read()
    capture.release()
    if not ok:
        raise RuntimeError(f"{VIDEO}: cannot read frame 0")
    resized = cv2.resize(image, (416, 416), interpolation=cv2.INTER_LINEAR)
    mean = np.array([103.53, 116.28, 123.675], np.float32)
    std = np.array([57.375, 57.12, 58.395], np.float32)
    scale, offset = (1.0 / std).astype(np.float32), (-mean / std).astype(np.float32)
    blob = np.empty((1, 3, 416, 416), np.float32)
    for channel in range(3):
        np.multiply(resized[:, :, channel], scale[channel], out=blob[0, channel], dtype=np.float32)
        blob[0, channel] += offset[channel]
    return blob


def opencv_vs_onnxruntime(cpp: Path, opencv_model: Path) -> dict[str, Any]:
    """Frame 0 through both engines on the C++ program's own input blob.

    Also checks that the OpenCV-readable rewrite of the model is exact: onnxruntime must
    give the same outputs for it as for the bundled file.
    """
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as folder:
        dump = Path(folder)
        result = _run([str(cpp), "--frames", "1", "--dump-raw", str(dump)])
        if result.returncode != 0:
            raise RuntimeError(f"C++ --dump-raw failed: {result.stderr[-2000:]}")
        blob = np.fromfile(dump / "input.f32", np.float32).reshape(1, 3, 416, 416)
        opencv = {p.stem: np.fromfile(p, np.float32) for p in dump.glob("[sb]*.f32")}

    def outputs(model: Path) -> dict[str, np.ndarray]:
        session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        named = {}
        for array in session.run(None, {session.get_inputs()[0].name: blob}):
            stride = round((416 * 416 / array.shape[1]) ** 0.5)
            named[f"{'scores' if array.shape[2] == 80 else 'boxes'}{stride}"] = array.ravel()
        return named

    bundled, rewritten = outputs(MODEL), outputs(opencv_model)
    return {
        "input_blob_max_abs_diff_vs_python": float(np.abs(blob - _python_blob()).max()),
        "rewritten_model_max_abs_diff_onnxruntime": max(
            float(np.abs(bundled[k] - rewritten[k]).max()) for k in bundled
        ),
        "opencv_vs_onnxruntime_max_abs_diff": {
            k: float(np.abs(bundled[k] - opencv[k]).max()) for k in sorted(bundled)
        },
    }


def _machine() -> dict[str, Any]:
    import cv2
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [x for x in cpuinfo.read_text().splitlines() if x.startswith("model name")]
        cpu = names[0].split(":", 1)[1].strip() if names else cpu
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "opencv_python": cv2.__version__,
        "gpu": "n/a",
    }


def _markdown(report: dict[str, Any]) -> str:
    rows = report["results"]
    lines = [
        "# One counting job in three languages",
        "",
        "Written by `python experiments/compare.py"
        + (f" --frames {report['frames_requested']}" if report["frames_requested"] else "")
        + (f" --repeat {report['repeat']}" if report["repeat"] > 1 else "")
        + "`. The job: `aistack/data/vtest.mp4` → NanoDet (416x416 stretch, persons, score"
        " ≥ 0.3, agnostic NMS 0.6) → greedy IoU tracker (≥ 0.3, dropped after 10 missed"
        " frames) → the walkway line (476.16, 460.8) → (476.16, 172.8) with the rules of"
        " docs/counting.md.",
        "",
        "| implementation | network runs on | frames | FPS | CPU % | CPU ms/frame | peak RSS MB"
        " | in | out | GPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['label']} | {row['inference']} | {row['frames']} | {row['fps']} | "
            f"{row['cpu_percent']} | {row['cpu_ms_per_frame']} | {row['peak_rss_mb']} | "
            f"{row['in']} | {row['out']} | n/a |"
        )
    machine = report["machine"]
    lines += [
        "",
        f"Counts agree: **{'yes' if report['counts_agree'] else 'NO'}**.",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, no GPU; load average (1, 5,"
        f" 15 min) {machine['load_average_at_start']} at the start and"
        f" {machine.get('load_average_at_end', '?')} at the end: other jobs on the host make"
        " FPS noisy, so compare rows of one run. Every implementation ran with"
        f" {report['threads']} inference threads. FPS is frames over the wall time of the frame"
        " loop (decode, inference, post-processing, counting; model loading excluded); CPU %"
        " is process CPU time over that wall time (200 % = both cores), and CPU ms/frame the"
        " same time per frame, which other jobs sway less than FPS; peak RSS is the"
        " process's `ru_maxrss`."
        + (" Values are medians of the repeats." if report["repeat"] > 1 else ""),
        "",
        "What runs where:",
        "",
        "- **Python**: `experiments/reference_job.py`: aistack's `NanoDetDetector`"
        " (cv2 decode and resize, numpy, onnxruntime) and `LineCounter`, plus the reference"
        " `IouTracker`.",
        "- **C++**: `experiments/cpp/`: OpenCV 4.6 `VideoCapture`, `resize` and DNN; decode,"
        " NMS (`cv::dnn::NMSBoxes`), tracker and counter in C++. OpenCV 4.6 cannot import the"
        " bundled opset-13 `Split`, so the build rewrites it into `Slice`s"
        " (`experiments/cpp/opencv_model.py`); onnxruntime gives bit-identical outputs for"
        " both files.",
        "- **Mojo**: `experiments/mojo/`: normalisation, box decode, NMS, tracker and counter"
        " in Mojo, reading and writing the numpy buffers in place. Video decoding, the resize"
        " and the network are **not** Mojo: they are cv2 and onnxruntime called through"
        " Mojo's Python interop, so the process also holds a Python interpreter.",
        "",
    ]
    builds = report["build_seconds"]
    if builds:
        lines.append(
            "Build time this run: "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in builds.items())
            + " (cmake reuses build/cpp and Mojo caches compiled code in ~/.cache/modular,"
            " so first builds take longer)."
        )
        lines.append("")
    if "opencv_check" in report:
        check = report["opencv_check"]
        per_output = check["opencv_vs_onnxruntime_max_abs_diff"]
        lines += [
            f"Raw outputs, frame 0: OpenCV DNN vs onnxruntime max abs diff"
            f" {max(per_output.values()):.3g} ("
            + ", ".join(f"{name} {diff:.2g}" for name, diff in per_output.items())
            + f"); C++ input blob vs Python's {check['input_blob_max_abs_diff_vs_python']};"
            f" rewritten model vs bundled under onnxruntime"
            f" {check['rewritten_model_max_abs_diff_onnxruntime']}.",
            "",
        ]
    for name, trace in report["traces"].items():
        if trace.get("same_boxes_and_ids"):
            lines.append(
                f"- {name} vs Python, per tracked box: same boxes and track ids in every frame;"
                f" max box difference {trace['max_box_diff_px']:.3g} px, max score difference"
                f" {trace['max_score_diff']:.3g}; {trace['bit_identical_boxes']} of"
                f" {trace['boxes']} boxes bit-identical."
            )
        else:
            lines.append(
                f"- {name} vs Python: boxes or track ids differ ({trace['boxes']} vs"
                f" {trace['port_boxes']} boxes; first (frame, id) differences"
                f" {trace['first_differences']})."
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=None, help="only the first N frames")
    parser.add_argument("--repeat", type=int, default=1, help="runs each, round robin; medians")
    parser.add_argument("--threads", type=int, default=2, help="inference threads for all")
    parser.add_argument("--only", default=",".join(NAMES), help="comma list of " + ", ".join(NAMES))
    parser.add_argument("--out", type=Path, default=BENCH, help="where the report goes")
    args = parser.parse_args()
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := set(wanted) - set(NAMES):
        parser.error(f"unknown implementation(s) {sorted(unknown)}; choose from {NAMES}")

    machine = _machine()  # before building, so the load average is the host's own
    builds: dict[str, float] = {}
    cpp = mojo = None
    try:
        if "cpp" in wanted:
            cpp, builds["cpp"] = build_cpp()
            print(f"built {cpp} in {builds['cpp']:.1f} s", file=sys.stderr)
        if "mojo" in wanted:
            mojo, builds["mojo"] = build_mojo()
            print(f"built {mojo} in {builds['mojo']:.1f} s", file=sys.stderr)
    except BuildError as error:
        print(f"compare: {error}", file=sys.stderr)
        return 2
    jobs = [job for job in implementations(cpp, mojo) if job.name in wanted]

    runs: dict[str, list[dict[str, Any]]] = {job.name: [] for job in jobs}
    with tempfile.TemporaryDirectory() as folder:
        traces = {job.name: Path(folder) / f"{job.name}.trace" for job in jobs}
        for attempt in range(args.repeat):  # round robin, so load drifts hit all alike
            for job in jobs:
                trace = traces[job.name] if attempt == 0 else None
                try:
                    result = run_job(job, args.frames, args.threads, trace)
                except RuntimeError as error:
                    print(f"compare: {error}", file=sys.stderr)
                    return 1
                runs[job.name].append(result)
                print(f"{job.name}: {json.dumps(result)}", file=sys.stderr)
        trace_report = {
            job.name: compare_traces(traces["python"], traces[job.name])
            for job in jobs
            if job.name != "python" and "python" in traces
        }

    results = []
    for job in jobs:
        first = runs[job.name][0]
        results.append(
            {
                "implementation": job.name,
                "label": job.label,
                "inference": job.inference,
                "frames": first["frames"],
                "in": first["in"],
                "out": first["out"],
                "fps": round(statistics.median(r["fps"] for r in runs[job.name]), 2),
                "cpu_percent": round(
                    statistics.median(r["cpu_percent"] for r in runs[job.name]), 1
                ),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in runs[job.name]),
                # CPU time per frame: less swayed than FPS by other jobs on the host.
                "cpu_ms_per_frame": round(
                    statistics.median(
                        10.0 * r["cpu_percent"] / max(r["fps"], 1e-9) for r in runs[job.name]
                    ),
                    1,
                ),
                "gpu": "n/a",
                "runs": runs[job.name],
            }
        )
    counts = {(r["frames"], r["in"], r["out"]) for rs in runs.values() for r in rs}
    report: dict[str, Any] = {
        "frames_requested": args.frames,
        "repeat": args.repeat,
        "threads": args.threads,
        "counts_agree": len(counts) == 1,
        "results": results,
        "traces": trace_report,
        "build_seconds": {k: round(v, 1) for k, v in builds.items()},
        "machine": machine,
    }
    machine["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    if cpp is not None:
        report["opencv_check"] = opencv_vs_onnxruntime(cpp, cpp.parent / "nanodet-opencv46.onnx")

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "languages.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "languages.md").write_text(_markdown(report))
    print((args.out / "languages.md").read_text())
    if not report["counts_agree"]:
        print(f"compare: counts differ: {sorted(counts)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
