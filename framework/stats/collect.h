// One statistics pass: the probe attached to the model over a fixed set of evaluation windows (the
// caller draws them once, from the configured split with the run's seed, so every preset and scheme
// sees the same tokens).
#pragma once
#include <string>

#include <ATen/core/Tensor.h>

#include "framework/core/config.h"
#include "framework/stats/activation_stats.h"

namespace oasis {

class LanguageModel;

SchemeStats collect_statistics(LanguageModel& model, const at::Tensor& windows, const StatsConfig& options,
                               const std::string& scheme = "fp");

}  // namespace oasis
