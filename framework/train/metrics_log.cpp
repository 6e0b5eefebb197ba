#include "framework/train/metrics_log.h"

#include <sstream>

#include "framework/core/errors.h"
#include "framework/core/paths.h"

namespace oasis {

MetricsLog::MetricsLog(const std::filesystem::path& path, int64_t keep_through_step) {
  std::string kept;
  if (std::filesystem::exists(path)) {
    std::istringstream in(read_file(path));
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (record.is_discarded() || !record.is_object()) break;  // a line cut by a kill: everything after it is stale too
      if (record.value("step", int64_t(0)) <= keep_through_step) kept += line + "\n";
    }
  }
  write_file_atomic(path, kept);
  out_.open(path, std::ios::app);
  if (!out_) throw RuntimeError("cannot append to " + path.string());
}

void MetricsLog::append(const nlohmann::json& record) {
  out_ << record.dump() << "\n";
  out_.flush();
}

}  // namespace oasis
