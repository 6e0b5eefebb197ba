#include "framework/run/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include "framework/core/errors.h"
#include "framework/core/hash.h"
#include "framework/core/paths.h"
#include "framework/core/version.h"

namespace oasis {
namespace fs = std::filesystem;

bool run_name_key(const std::string& key) { return key == "experiment" || key == "run"; }

bool result_neutral(const std::string& key) {
  return key == "threads" || key == "runs_dir" || key == "data.data_dir" || key == "data.cache_dir" ||
         key.rfind("report.", 0) == 0 || key.rfind("dist.", 0) == 0;
}

bool training_neutral(const std::string& key) {
  return result_neutral(key) || key.rfind("eval.", 0) == 0 || key.rfind("stats.", 0) == 0 ||
         key.rfind("quant.", 0) == 0 || key.rfind("gsm8k.", 0) == 0;
}

std::string config_hash(const Config& config) {
  std::string identity;
  for (const auto& [key, value] : config_rows(config))
    if (!run_name_key(key) && !result_neutral(key)) identity += key + "=" + value + "\n";
  return hex16(fnv1a64(identity)).substr(0, 12);
}

namespace {

// What a re-evaluation may change: how the trained model is run and measured, never the model itself.
bool evaluation_setting(const std::string& key) {
  return training_neutral(key) || key == "device" || key == "precision" || key == "attention_kernel";
}

}  // namespace

Config load_run_config(const fs::path& run_dir, const std::vector<std::string>& overrides) {
  for (const auto& text : overrides) {
    const std::string key = text.substr(0, text.find('='));
    if (!evaluation_setting(key))
      throw ConfigError(fmt::format(
          "command line `{}`: '{}' is fixed by the trained run in '{}'; a re-evaluation may change only eval.*, "
          "stats.*, quant.*, gsm8k.*, report.*, device, precision, attention_kernel, threads and paths (train a new run "
          "to change the rest)",
          text, key, run_dir.string()));
  }
  const fs::path file = run_dir / "config.yaml";
  if (!fs::is_regular_file(file))
    throw ConfigError(fmt::format("'{}' is not a run directory (no config.yaml)", run_dir.string()));
  ConfigTree tree = config_tree_from_string(read_file(file), file.string());
  migrate_renamed_keys(tree);
  apply_overrides(tree, overrides);
  return config_from_tree(tree);
}

fs::path prepare_run_dir(const Config& config) {
  const fs::path dir = config.run_dir();
  const fs::path file = dir / "config.yaml";
  if (fs::exists(file)) {
    const Config saved = load_run_config(dir, {});
    const auto before = config_rows(saved), now = config_rows(config);
    std::string differences;
    for (size_t i = 0; i < now.size(); ++i)
      if (before[i] != now[i] && !training_neutral(now[i].first))
        differences += fmt::format("\n  {}: {} (saved) vs {} (now)", now[i].first, before[i].second, now[i].second);
    if (!differences.empty())
      throw ConfigError(fmt::format(
          "run directory '{}' holds a run with a different config:{}\nchoose another `run=` name, or delete the "
          "directory to start over",
          dir.string(), differences));
    return dir;
  }
  write_file_atomic(file, fmt::format("# resolved config; code version {}\n{}", code_version(), config_to_yaml(config)));
  return dir;
}

RunLock::RunLock(const fs::path& run_dir) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) throw RuntimeError(fmt::format("cannot create run directory '{}': {}", run_dir.string(), ec.message()));
  const fs::path file = run_dir / ".lock";
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT, 0644);
  if (fd_ < 0) throw RuntimeError(fmt::format("cannot open lock file '{}'", file.string()));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = "";
    const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
    ::close(fd_);
    throw RunInUse(fmt::format("run directory '{}' is in use by another process (pid {}); wait for it or stop it",
                                   run_dir.string(), n > 0 ? std::string(holder, size_t(n)) : "unknown"));
  }
  // The pid only informs the error message of a second process; failing to write it is harmless.
  const std::string pid = std::to_string(::getpid());
  [[maybe_unused]] const bool written = ::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) > 0;
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

bool run_dir_in_use(const fs::path& run_dir) {
  try {
    const RunLock probe(run_dir);
    return false;
  } catch (const RunInUse&) {
    return true;
  }
}

bool run_is_done(const fs::path& run_dir) { return fs::exists(run_dir / "DONE"); }

void mark_run_done(const fs::path& run_dir) { write_file_atomic(run_dir / "DONE", std::string(code_version()) + "\n"); }

}  // namespace oasis
