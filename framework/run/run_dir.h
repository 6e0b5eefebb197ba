// A run directory, runs/<experiment>/<run>/ (see docs/configuration.md, "Run directory"): config.yaml (the resolved
// config, with the code version), metrics.jsonl, checkpoints/, results.json, and DONE once finished.
// Rerunning a config in its directory resumes it; a different config there is an error, never a silent
// overwrite.
#pragma once
#include <filesystem>
#include <string>

#include "framework/core/config.h"

namespace oasis {

// The keys that only name a run (experiment, run): they place it, they are not what it computes.
bool run_name_key(const std::string& key);

// Keys that change no number a run reports: where and how fast it executes (threads, runs_dir,
// data.data_dir, data.cache_dir: where the same data is found, dist.*: on how many processes) and how the
// report presents it (report.*).
bool result_neutral(const std::string& key);

// Keys that change how a run is evaluated or executed, not what it trains: the result-neutral keys and
// eval.*, stats.*, quant.*, gsm8k.*.
bool training_neutral(const std::string& key);

// The identity of what a config computes: a hash of every key but the result-neutral ones and the names
// (experiment, run), so the same run in two folders or on two thread counts has one hash.
std::string config_hash(const Config& config);

// Writes config.yaml into the (locked) run directory, or checks that the saved one matches `config`
// (training-neutral keys -- threads, paths, eval.*, stats.*, quant.*, gsm8k.*, report.* -- may differ).
std::filesystem::path prepare_run_dir(const Config& config);

// Reads a run directory's config.yaml plus `overrides` into a Config. Overrides may only change how the
// trained model is evaluated (result-neutral keys, device, precision, attention_kernel); any other key is
// a ConfigError naming it, since the checkpoint holds a model trained with the saved value.
Config load_run_config(const std::filesystem::path& run_dir, const std::vector<std::string>& overrides);

// An exclusive lock on a run directory (flock on <run>/.lock; the directory is created when new) for as
// long as this object lives. The kernel drops it when the process dies, so a crashed holder never leaves
// it stuck. A second process gets a RunInUse error naming the holder's pid.
class RunLock {
 public:
  explicit RunLock(const std::filesystem::path& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

// Whether another live process holds the run directory's lock now.
bool run_dir_in_use(const std::filesystem::path& run_dir);

bool run_is_done(const std::filesystem::path& run_dir);
void mark_run_done(const std::filesystem::path& run_dir);

}  // namespace oasis
