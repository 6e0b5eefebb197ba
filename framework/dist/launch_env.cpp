#include "framework/dist/launch_env.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "framework/core/errors.h"
#include "framework/core/paths.h"

namespace oasis {

namespace {

int int_variable(const EnvLookup& lookup, const char* name, int min, int max) {
  const char* text = lookup(name);
  if (!text) throw ConfigError(fmt::format("distributed launch: {} is not set", name));
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < min || value > max)
    throw ConfigError(fmt::format("distributed launch: {}='{}', expected an integer in [{}, {}]", name, text, min, max));
  return int(value);
}

std::string text_variable(const EnvLookup& lookup, const char* name) {
  const char* text = lookup(name);
  return text ? text : "";
}

// torch's variables (torchrun, or exported by hand).
LaunchEnv from_torch_variables(const EnvLookup& lookup) {
  LaunchEnv env;
  env.world_size = int_variable(lookup, "WORLD_SIZE", 1, 1 << 20);
  env.rank = int_variable(lookup, "RANK", 0, env.world_size - 1);
  env.local_rank = lookup("LOCAL_RANK") ? int_variable(lookup, "LOCAL_RANK", 0, env.world_size - 1) : env.rank;
  env.local_world_size = lookup("LOCAL_WORLD_SIZE") ? int_variable(lookup, "LOCAL_WORLD_SIZE", 1, env.world_size)
                                                    : env.world_size;
  env.launcher_hosts_store = text_variable(lookup, "TORCHELASTIC_USE_AGENT_STORE") == "True";
  env.launcher = lookup("TORCHELASTIC_RUN_ID") ? "torchrun" : "environment";
  return env;
}

// srun's variables: one task per rank.
LaunchEnv from_slurm_step(const EnvLookup& lookup) {
  LaunchEnv env;
  env.world_size = int_variable(lookup, "SLURM_STEP_NUM_TASKS", 1, 1 << 20);
  env.rank = int_variable(lookup, "SLURM_PROCID", 0, env.world_size - 1);
  env.local_rank = int_variable(lookup, "SLURM_LOCALID", 0, env.world_size - 1);
  // "2" or "2(x3)" or "2,1": the leading count is this node's when the nodes are alike.
  const std::string per_node = text_variable(lookup, "SLURM_STEP_TASKS_PER_NODE");
  env.local_world_size = per_node.empty() ? 1 : std::max(1, std::atoi(per_node.c_str()));
  env.launcher = "slurm";
  return env;
}

}  // namespace

std::optional<LaunchEnv> launch_env_from(const EnvLookup& lookup) {
  LaunchEnv env;
  if (lookup("WORLD_SIZE")) {
    env = from_torch_variables(lookup);
  } else if (lookup("SLURM_STEP_ID") && lookup("SLURM_STEP_NUM_TASKS") && lookup("SLURM_PROCID")) {
    env = from_slurm_step(lookup);
  } else {
    if (lookup("RANK") || lookup("LOCAL_RANK"))
      throw ConfigError("distributed launch: RANK/LOCAL_RANK are set but WORLD_SIZE is not; launch with `torchrun "
                        "--nproc-per-node N --no-python oasis ...`, or export WORLD_SIZE too");
    return std::nullopt;
  }
  if (env.world_size == 1) return std::nullopt;
  env.master_addr = text_variable(lookup, "MASTER_ADDR");
  const bool one_node = env.launcher == "slurm" && text_variable(lookup, "SLURM_STEP_NUM_NODES") == "1";
  if (env.master_addr.empty()) {
    if (!one_node)
      throw ConfigError(fmt::format(
          "distributed launch: WORLD_SIZE={} (from {}) but MASTER_ADDR is not set; export MASTER_ADDR=<the host of "
          "rank 0> and MASTER_PORT=<a free port> on every rank (torchrun and `oasis run --slurm` do this)",
          env.world_size, env.launcher));
    env.master_addr = "127.0.0.1";
  }
  if (lookup("MASTER_PORT")) {
    env.master_port = int_variable(lookup, "MASTER_PORT", 1, 65535);
  } else if (one_node && lookup("SLURM_JOB_ID")) {  // distinct per job, so array tasks on one node do not collide
    env.master_port = kSlurmPortBase + int_variable(lookup, "SLURM_JOB_ID", 0, 1 << 30) % kSlurmPortSpan;
  } else {
    throw ConfigError(fmt::format("distributed launch: MASTER_ADDR={} but MASTER_PORT is not set; export the port "
                                  "rank 0 listens on (the same on every rank)",
                                  env.master_addr));
  }
  return env;
}

std::vector<std::string> torchrun_command(int64_t processes, const std::filesystem::path& program) {
  namespace fs = std::filesystem;
  std::string torchrun;
  if (const char* configured = std::getenv("OASIS_TORCHRUN"); configured && *configured) torchrun = configured;
  const std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  for (size_t start = 0; torchrun.empty() && start <= path.size();) {
    const size_t end = std::min(path.find(':', start), path.size());
    const fs::path candidate = fs::path(path.substr(start, end - start)) / "torchrun";
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) torchrun = candidate.string();
    start = end + 1;
  }
  if (const fs::path bundled = repo_root() / ".venv" / "bin" / "torchrun";
      torchrun.empty() && ::access(bundled.c_str(), X_OK) == 0)
    torchrun = bundled.string();
  if (torchrun.empty())
    throw RuntimeError("several processes on one machine are started with torchrun, which is neither in "
                       "$OASIS_TORCHRUN, on the PATH nor in .venv/bin (run `make venv`)");
  return {torchrun, "--standalone", fmt::format("--nproc-per-node={}", processes), "--no-python", program.string()};
}

std::optional<LaunchEnv> launch_env() {
  return launch_env_from([](const char* name) { return std::getenv(name); });
}

}  // namespace oasis
