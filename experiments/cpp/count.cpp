// The fixed counting job in C++ with OpenCV 4.6: decode → NanoDet on cv::dnn → IoU tracker →
// line counting. Prints {"frames","in","out","fps","cpu_percent","peak_rss_mb"} like
// experiments/reference_job.py, whose rules it copies (see job.hpp).
//
//   count [--video PATH] [--model PATH] [--frames N] [--threads N] [--trace PATH]
//         [--dump-raw DIR]
//
// --trace writes one line per tracked box ("frame id x1 y1 x2 y2 score"), the format all
// three implementations share. --dump-raw writes frame 0's input blob and six raw outputs
// as float32 files, so the driver can compare cv::dnn with onnxruntime on the same input.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "job.hpp"

namespace {

constexpr int kInput = 416;
constexpr int kPerson = 0;
constexpr float kConfidence = 0.3f;
constexpr float kNmsIou = 0.6f;
constexpr double kMatchIou = 0.3;
constexpr int kMaxMissed = 10;
// The walkway line of experiments/walkway.yaml in pixels, as in reference_job.LINE.
constexpr double kLine[4] = {476.16, 460.8, 476.16, 172.8};
// NanoDet's training normalisation, BGR order (docs/models.md).
constexpr float kMean[3] = {103.53f, 116.28f, 123.675f};
constexpr float kStd[3] = {57.375f, 57.12f, 58.395f};

struct Options {
  std::string video = AISTACK_VIDEO;
  std::string model = AISTACK_MODEL;  // the OpenCV-readable rewrite (CMakeLists.txt)
  long frames = -1;  // all
  int threads = 2;
  std::string trace;
  std::string dump_raw;
};

[[noreturn]] void usage(const char* message) {
  std::cerr << "count: " << message
            << "\nusage: count [--video PATH] [--model PATH] [--frames N] [--threads N]"
               " [--trace PATH] [--dump-raw DIR]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(("missing value after " + flag).c_str());
    const std::string value = argv[++i];
    if (flag == "--video") options.video = value;
    else if (flag == "--model") options.model = value;
    else if (flag == "--frames") options.frames = std::stol(value);
    else if (flag == "--threads") options.threads = std::stoi(value);
    else if (flag == "--trace") options.trace = value;
    else if (flag == "--dump-raw") options.dump_raw = value;
    else usage(("unknown option " + flag).c_str());
  }
  return options;
}

// (pixel − mean) / std as NanoDetDetector computes it: float32(pixel × (1/std)), then
// + (−mean/std), two roundings (built with -ffp-contract=off so no FMA merges them).
void preprocess(const cv::Mat& image, cv::Mat& resized, cv::Mat& blob) {
  cv::resize(image, resized, cv::Size(kInput, kInput), 0, 0, cv::INTER_LINEAR);
  float* out = blob.ptr<float>();
  const size_t plane = static_cast<size_t>(kInput) * kInput;
  for (int c = 0; c < 3; ++c) {
    const float scale = 1.0f / kStd[c];
    const float offset = -kMean[c] / kStd[c];
    float* target = out + c * plane;
    for (int y = 0; y < kInput; ++y) {
      const uchar* row = resized.ptr<uchar>(y);
      for (int x = 0; x < kInput; ++x) {
        const float scaled = static_cast<float>(row[3 * x + c]) * scale;
        target[static_cast<size_t>(y) * kInput + x] = scaled + offset;
      }
    }
  }
}

// Pair score [1, N, 80] and box [1, N, 44] outputs by N; the stride follows from N.
std::vector<job::Level> levels_of(const std::vector<cv::Mat>& outputs) {
  std::vector<job::Level> levels;
  for (const cv::Mat& scores : outputs) {
    if (scores.dims != 3 || scores.size[2] != 80) continue;
    const int points = scores.size[1];
    for (const cv::Mat& bins : outputs) {
      if (bins.dims != 3 || bins.size[2] != 4 * job::kBins || bins.size[1] != points) continue;
      const float stride = std::sqrt(static_cast<float>(kInput * kInput) / points);
      const int columns = static_cast<int>(std::lround(kInput / stride));
      levels.push_back({scores.ptr<float>(), bins.ptr<float>(), points, 80, stride, columns});
    }
  }
  if (levels.size() != 3) {
    std::cerr << "count: outputs are not NanoDet's three score/box pairs\n";
    std::exit(1);
  }
  // NanoDetDetector orders candidates by level, stride 8 first (most points first).
  std::sort(levels.begin(), levels.end(),
            [](const job::Level& a, const job::Level& b) { return a.points > b.points; });
  return levels;
}

void dump(const std::string& path, const cv::Mat& mat) {
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(mat.ptr<float>()),
             static_cast<std::streamsize>(mat.total() * sizeof(float)));
}

double cpu_seconds(const rusage& usage) {
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
         usage.ru_stime.tv_usec / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  cv::setNumThreads(options.threads);
  cv::dnn::Net net = cv::dnn::readNetFromONNX(options.model);
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  const std::vector<std::string> names = net.getUnconnectedOutLayersNames();

  cv::VideoCapture capture(options.video);
  if (!capture.isOpened()) {
    std::cerr << "count: cannot open " << options.video << "\n";
    return 1;
  }
  std::FILE* trace = options.trace.empty() ? nullptr : std::fopen(options.trace.c_str(), "w");

  job::IouTracker tracker(kMatchIou, kMaxMissed);
  job::LineCounter counter(kLine[0], kLine[1], kLine[2], kLine[3], 2.0f, 0.08f, 2);
  const int blob_shape[4] = {1, 3, kInput, kInput};
  cv::Mat image, resized, blob(4, blob_shape, CV_32F);
  std::vector<cv::Mat> outputs;

  long index = 0;
  rusage usage_start{}, usage_end{};
  getrusage(RUSAGE_SELF, &usage_start);
  const auto wall_start = std::chrono::steady_clock::now();
  while (options.frames < 0 || index < options.frames) {
    if (!capture.read(image)) break;
    preprocess(image, resized, blob);
    net.setInput(blob);
    net.forward(outputs, names);
    const auto levels = levels_of(outputs);
    const auto candidates =
        job::decode(levels, kPerson, kConfidence, image.cols, image.rows, kInput, kInput);
    const auto detections = job::suppress(candidates, kNmsIou);
    const auto ids = tracker.update(detections);
    counter.update(detections, ids, index);
    if (trace) {
      for (size_t i = 0; i < detections.size(); ++i) {
        const job::Box& b = detections[i].box;
        std::fprintf(trace, "%ld %lld %.9g %.9g %.9g %.9g %.9g\n", index,
                     static_cast<long long>(ids[i]), b.x1, b.y1, b.x2, b.y2,
                     detections[i].score);
      }
    }
    if (index == 0 && !options.dump_raw.empty()) {
      dump(options.dump_raw + "/input.f32", blob);
      // Named by role and stride, as compare.py names onnxruntime's outputs.
      for (const job::Level& level : levels) {
        const std::string stride = std::to_string(std::lround(level.stride)) + ".f32";
        for (const cv::Mat& out : outputs) {
          if (out.ptr<float>() == level.scores) dump(options.dump_raw + "/scores" + stride, out);
          if (out.ptr<float>() == level.bins) dump(options.dump_raw + "/boxes" + stride, out);
        }
      }
    }
    ++index;
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  getrusage(RUSAGE_SELF, &usage_end);
  if (trace) std::fclose(trace);

  const double cpu = cpu_seconds(usage_end) - cpu_seconds(usage_start);
  std::printf(
      "{\"frames\": %ld, \"in\": %lld, \"out\": %lld, \"fps\": %.2f, \"cpu_percent\": %.1f, "
      "\"peak_rss_mb\": %.1f}\n",
      index, static_cast<long long>(counter.total_in()),
      static_cast<long long>(counter.total_out()), wall > 0 ? index / wall : 0.0,
      wall > 0 ? 100.0 * cpu / wall : 0.0, usage_end.ru_maxrss / 1024.0);
  return 0;
}
