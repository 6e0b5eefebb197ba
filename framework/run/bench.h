// Training-throughput measurement for `oasis bench`: one trial per model runs real optimizer steps on
// real training windows and times each; trials of several presets can be stepped in turn, so slow
// phases of a noisy machine hit every preset alike.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "framework/core/config.h"

namespace oasis {

class SpeedTrial {
 public:
  explicit SpeedTrial(const Config& config);
  ~SpeedTrial();
  double step_ms();  // one optimizer step, wall time
  int64_t parameters() const;
  int64_t tokens_per_step() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

double median(std::vector<double> values);

}  // namespace oasis
