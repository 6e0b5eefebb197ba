// Data-parallel scaling for `oasis bench --ranks` (cli/bench_scaling.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/core/config.h"

namespace oasis {

struct ScalingOptions {
  std::string config_file;
  std::vector<std::string> overrides, presets;
  std::vector<int64_t> ranks;
  int64_t steps = 10, warmup = 3, repeats = 3;
};

// Tokens/s, tokens/s per rank and scaling efficiency of each preset at each rank count: one record each.
nlohmann::json run_scaling(const ScalingOptions& options);
void render_scaling(const nlohmann::json& records);

// A launched rank (--rank-child): joins the group and times `steps` training steps after `warmup`.
void run_scaling_child(const Config& config, int64_t steps, int64_t warmup);

}  // namespace oasis
