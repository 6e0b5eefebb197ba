// The single-run job behind `oasis train` and `oasis eval`: settings table, data, model, training (or a
// checkpoint), perplexity on the configured splits, results.json. Later stages (statistics,
// quantization, GSM8K) hook in here.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/core/config.h"

namespace oasis {

// Trains (resuming when the run directory holds checkpoints), evaluates, writes results.json and DONE.
// A finished run is reported, not retrained. Returns results.json's content.
nlohmann::json train_and_evaluate(const Config& config);

// Evaluates the newest checkpoint of a run directory with its saved config plus `overrides`.
nlohmann::json evaluate_run(const std::filesystem::path& run_dir, const std::vector<std::string>& overrides);

}  // namespace oasis
