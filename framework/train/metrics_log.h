// metrics.jsonl: one JSON object per logged step. On resume the records past the checkpoint's step are
// dropped (they will be produced again), so the file always reads as one uninterrupted run.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace oasis {

class MetricsLog {
 public:
  // Keeps the existing records with step <= keep_through_step (0 on a fresh run: start empty).
  MetricsLog(const std::filesystem::path& path, int64_t keep_through_step);
  void append(const nlohmann::json& record);

 private:
  std::ofstream out_;
};

}  // namespace oasis
