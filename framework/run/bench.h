// Training-throughput measurement for `oasis bench`: a few warm-up steps, then timed optimizer steps on
// real training windows; the median step time gives tokens/s.
#pragma once
#include <cstdint>

#include <nlohmann/json.hpp>

#include "framework/core/config.h"

namespace oasis {

struct TrainingSpeed {
  int64_t parameters = 0;
  int64_t tokens_per_step = 0;
  double median_step_ms = 0;
  double tokens_per_s = 0;
  nlohmann::json to_json() const;
};

TrainingSpeed measure_training_speed(const Config& config, int64_t warmup_steps, int64_t timed_steps);

}  // namespace oasis
