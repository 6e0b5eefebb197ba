// The statistics probe: a TapObserver that the evaluation attaches to a model. It keeps the tap sites
// whose names match the configured glob patterns and sorts each into activation, attention or depth
// statistics by what the tap is (see site_kind). The model knows nothing about it.
#pragma once
#include <string>
#include <vector>

#include "framework/model/taps.h"
#include "framework/stats/activation_stats.h"

namespace oasis {

enum class SiteKind { activation, attention_probs, null_mass, depth_weights, other };

// By the tap's last name part: routed, normed, heads, out, hidden, block_sum -> activation; probs ->
// attention maps; null_mass; weights -> depth routing; anything else (lse, gate, keep, ...) -> other.
SiteKind site_kind(const std::string& site);

bool matches_any(const std::string& site, const std::vector<std::string>& patterns);  // fnmatch globs

class StatsProbe : public TapObserver {
 public:
  StatsProbe(std::vector<std::string> patterns, int64_t map_sequences, double sink_eps);
  // Called before each batch with the index of its first sequence (maps go to the first ones).
  void begin_batch(int64_t first_sequence, int64_t batch_size);
  void observe(const std::string& site, const at::Tensor& value) override;
  SchemeStats& stats() { return stats_; }

 private:
  std::vector<std::string> patterns_;
  int64_t map_sequences_;
  int64_t keep_ = 0;  // maps to keep from the current batch
  SchemeStats stats_;
};

}  // namespace oasis
