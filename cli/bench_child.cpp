#include "cli/bench_child.h"

#include <cstdio>

#include <fmt/format.h>

#include "framework/core/errors.h"
#include "framework/core/process.h"
#include "framework/core/text.h"

namespace oasis {
namespace {
const std::string kResultTag = "OASIS_BENCH_RESULT ";
}

BenchChild run_bench_child(const std::vector<std::string>& argv, bool with_stderr) {
  const ProcessResult p = run_process(argv, with_stderr);
  const auto at = p.output.rfind(kResultTag);
  if (p.exit_code != 0 || at == std::string::npos)
    throw RuntimeError(fmt::format("bench: `{}` failed (exit {}):\n{}", join(argv, " "), p.exit_code,
                                   p.output.substr(p.output.size() > 3000 ? p.output.size() - 3000 : 0)));
  return {nlohmann::json::parse(p.output.substr(at + kResultTag.size())), p.peak_rss_mb};
}

void print_bench_result(const nlohmann::json& result) {
  std::printf("%s%s\n", kResultTag.c_str(), result.dump().c_str());
  std::fflush(stdout);
}

}  // namespace oasis
