// One statistics pass: the probe attached to the model over a fixed set of evaluation windows (drawn
// from the configured split with the run's seed, so every preset and scheme sees the same tokens).
#pragma once
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "framework/core/config.h"
#include "framework/stats/activation_stats.h"

namespace oasis {

class LanguageModel;

// [sequences, seq_len] int64 windows (BOS first with data.bos).
at::Tensor statistics_windows(const std::vector<int32_t>& tokens, const Config& config, int32_t bos_id);

SchemeStats collect_statistics(LanguageModel& model, const at::Tensor& windows, const StatsConfig& options,
                               const std::string& scheme = "fp");

}  // namespace oasis
