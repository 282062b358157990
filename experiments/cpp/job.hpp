// Post-processing of the fixed counting job: NanoDet decode, NMS, IoU tracker, line counter.
//
// Every rule and every floating-point step copies experiments/reference_job.py and the
// aistack code it calls (aistack/detect/nanodet.py, aistack/analytics/lines.py), including
// which steps run in float and which in double, so that the counts agree exactly.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include <opencv2/dnn.hpp>

namespace job {

constexpr int kBins = 11;  // reg_max = 10: each box side is a distribution over 0..10 strides

struct Box {
  float x1, y1, x2, y2;
};

struct Detection {
  Box box;
  float score;
};

// One stride's outputs: scores [N, classes] (already sigmoid) and box logits [N, 44].
struct Level {
  const float* scores;
  const float* bins;
  int points;
  int classes;
  float stride;
  int columns;
};

// Person boxes with score >= threshold, in original-image pixels, in NanoDetDetector's
// candidate order (levels by stride 8, 16, 32, points in index order), before NMS.
inline std::vector<Detection> decode(const std::vector<Level>& levels, int class_id,
                                     float threshold, int width, int height, int input_w,
                                     int input_h) {
  // numpy computes width / 416 in double, then stores it as float32.
  const float sx = static_cast<float>(static_cast<double>(width) / input_w);
  const float sy = static_cast<float>(static_cast<double>(height) / input_h);
  const float fw = static_cast<float>(width), fh = static_cast<float>(height);
  std::vector<Detection> found;
  for (const Level& level : levels) {
    for (int n = 0; n < level.points; ++n) {
      const float score = level.scores[static_cast<size_t>(n) * level.classes + class_id];
      if (!(score >= threshold)) continue;
      const float* logits = level.bins + static_cast<size_t>(n) * 4 * kBins;
      float distance[4];
      for (int side = 0; side < 4; ++side) {
        const float* l = logits + side * kBins;
        float top = l[0];
        for (int i = 1; i < kBins; ++i) top = std::max(top, l[i]);
        float weighted = 0.0f, total = 0.0f;
        for (int i = 0; i < kBins; ++i) {
          const float w = std::exp(l[i] - top);  // softmax without overflow
          weighted += w * static_cast<float>(i);
          total += w;
        }
        distance[side] = weighted / total * level.stride;
      }
      const float cx = (static_cast<float>(n % level.columns) + 0.5f) * level.stride;
      const float cy = (static_cast<float>(n / level.columns) + 0.5f) * level.stride;
      Box box{(cx - distance[0]) * sx, (cy - distance[1]) * sy, (cx + distance[2]) * sx,
              (cy + distance[3]) * sy};
      box.x1 = std::clamp(box.x1, 0.0f, fw);
      box.y1 = std::clamp(box.y1, 0.0f, fh);
      box.x2 = std::clamp(box.x2, 0.0f, fw);
      box.y2 = std::clamp(box.y2, 0.0f, fh);
      found.push_back({box, score});
    }
  }
  return found;
}

// Class-agnostic NMS through the same OpenCV call as aistack (cv::dnn::NMSBoxes on Rect2d),
// best score first. Width and height are float32 differences, as numpy computes them.
inline std::vector<Detection> suppress(const std::vector<Detection>& candidates, float iou) {
  std::vector<cv::Rect2d> rects;
  std::vector<float> scores;
  std::vector<size_t> valid;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Box& b = candidates[i].box;
    const float w = b.x2 - b.x1, h = b.y2 - b.y1;
    if (!(w > 0.0f && h > 0.0f)) continue;
    rects.emplace_back(b.x1, b.y1, w, h);
    scores.push_back(candidates[i].score);
    valid.push_back(i);
  }
  std::vector<int> kept;
  // Score threshold 0: candidates already passed the confidence threshold.
  cv::dnn::NMSBoxes(rects, scores, 0.0f, iou, kept);
  std::vector<Detection> result;
  for (int k : kept) result.push_back(candidates[valid[static_cast<size_t>(k)]]);
  return result;
}

// IoU in doubles, in the operation order of reference_job.box_iou.
inline double box_iou(const Box& a, const Box& b) {
  const double ax1 = a.x1, ay1 = a.y1, ax2 = a.x2, ay2 = a.y2;
  const double bx1 = b.x1, by1 = b.y1, bx2 = b.x2, by2 = b.y2;
  const double width = std::max(0.0, std::min(ax2, bx2) - std::max(ax1, bx1));
  const double height = std::max(0.0, std::min(ay2, by2) - std::max(ay1, by1));
  const double inter = width * height;
  const double uni = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
  return uni > 0.0 ? inter / uni : 0.0;
}

// The greedy IoU tracker of reference_job.IouTracker: highest IoU first (ties: older
// track, then earlier detection), new ids in detection order, dropped after max_missed.
class IouTracker {
 public:
  IouTracker(double match_iou, int max_missed) : match_iou_(match_iou), max_missed_(max_missed) {}

  std::vector<int64_t> update(const std::vector<Detection>& detections) {
    std::vector<std::tuple<double, size_t, size_t>> pairs;  // (-iou, track, detection)
    for (size_t t = 0; t < tracks_.size(); ++t) {
      for (size_t d = 0; d < detections.size(); ++d) {
        const double iou = box_iou(tracks_[t].box, detections[d].box);
        if (iou >= match_iou_) pairs.emplace_back(-iou, t, d);
      }
    }
    std::sort(pairs.begin(), pairs.end());
    std::vector<int64_t> ids(detections.size(), 0);
    std::vector<bool> matched(tracks_.size(), false);
    for (const auto& [negative_iou, t, d] : pairs) {
      if (matched[t] || ids[d] != 0) continue;
      matched[t] = true;
      tracks_[t].box = detections[d].box;
      tracks_[t].missed = 0;
      ids[d] = tracks_[t].id;
    }
    std::vector<Track> survivors;
    for (size_t t = 0; t < tracks_.size(); ++t) {
      if (!matched[t] && ++tracks_[t].missed >= max_missed_) continue;
      survivors.push_back(tracks_[t]);
    }
    for (size_t d = 0; d < detections.size(); ++d) {
      if (ids[d] != 0) continue;
      ids[d] = next_id_;
      survivors.push_back({next_id_++, detections[d].box, 0});
    }
    tracks_ = std::move(survivors);
    return ids;
  }

 private:
  struct Track {
    int64_t id;
    Box box;
    int missed;
  };
  double match_iou_;
  int max_missed_;
  std::vector<Track> tracks_;
  int64_t next_id_ = 1;
};

// aistack.analytics.lines.LineCounter for one class: bottom-centre anchor, hysteresis band,
// min_frames persistence, first clear sighting sets the side, segment extent, once per
// direction, per-track state forgotten after forget_after unseen frames.
class LineCounter {
 public:
  LineCounter(double x1, double y1, double x2, double y2, float min_distance,
              float min_distance_fraction, int min_frames, int forget_after = 300)
      : x1_(x1), y1_(y1), x2_(x2), y2_(y2), min_distance_(min_distance),
        fraction_(min_distance_fraction), min_frames_(min_frames), forget_after_(forget_after) {}

  void update(const std::vector<Detection>& detections, const std::vector<int64_t>& ids,
              int64_t frame_index) {
    const double dx = x2_ - x1_, dy = y2_ - y1_;
    const double length = std::hypot(dx, dy);
    for (size_t i = 0; i < detections.size(); ++i) {
      const Box& b = detections[i].box;
      // geometry.anchor_points: float64 from the float32 box, fx = 0.5, fy = 1.0.
      const double px = b.x1 + 0.5 * (static_cast<double>(b.x2) - b.x1);
      const double py = b.y1 + 1.0 * (static_cast<double>(b.y2) - b.y1);
      const double distance = (dx * (py - y1_) - dy * (px - x1_)) / length;
      // numpy keeps the band in float32: heights are float32 and 0.08 is a weak scalar.
      const float band = std::max(min_distance_, fraction_ * (b.y2 - b.y1));
      const int observed = distance > band ? 1 : (distance < -static_cast<double>(band) ? -1 : 0);
      const double position = ((px - x1_) * dx + (py - y1_) * dy) / (dx * dx + dy * dy);
      const bool within = position >= 0.0 && position <= 1.0;

      TrackSide& state = tracks_[ids[i]];
      state.last_seen = frame_index;
      if (observed == 0) continue;  // inside the band: no evidence either way
      if (state.side == 0) {
        state.side = observed;  // first clear sighting sets the side, counts nothing
        continue;
      }
      if (observed == state.side) {
        state.candidate = state.candidate_frames = 0;
        continue;
      }
      if (observed != state.candidate) {
        state.candidate = observed;
        state.candidate_frames = 0;
      }
      if (++state.candidate_frames < min_frames_) continue;
      state.side = observed;
      state.candidate = state.candidate_frames = 0;
      if (!within) continue;
      const int direction = observed > 0 ? 0 : 1;  // 0 in, 1 out
      if (state.counted[direction]) continue;
      state.counted[direction] = true;
      ++counts_[direction];
    }
    for (auto it = tracks_.begin(); it != tracks_.end();) {
      it = frame_index - it->second.last_seen > forget_after_ ? tracks_.erase(it) : std::next(it);
    }
  }

  int64_t total_in() const { return counts_[0]; }
  int64_t total_out() const { return counts_[1]; }

 private:
  struct TrackSide {
    int side = 0;
    int candidate = 0;
    int candidate_frames = 0;
    bool counted[2] = {false, false};
    int64_t last_seen = 0;
  };
  double x1_, y1_, x2_, y2_;
  float min_distance_, fraction_;
  int min_frames_, forget_after_;
  std::map<int64_t, TrackSide> tracks_;
  int64_t counts_[2] = {0, 0};
};

}  // namespace job
