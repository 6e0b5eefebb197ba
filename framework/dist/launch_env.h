// Where this process stands in a multi-process run, read from the launcher's environment: torchrun (and
// anything that exports torch's variables) sets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
// MASTER_ADDR and MASTER_PORT; `srun` sets SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID and
// SLURM_STEP_TASKS_PER_NODE, and the rendezvous address then comes from MASTER_ADDR/MASTER_PORT (which
// the generated sbatch script exports) or, on one node, defaults to 127.0.0.1 and a port derived from
// the job id. A bad or half-set environment is a ConfigError naming the variable.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace oasis {

struct LaunchEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;  // processes on this node (threads are split between them)
  std::string master_addr;
  int master_port = 0;
  std::string launcher;             // "torchrun", "slurm" or "environment"
  bool launcher_hosts_store = false;  // torchrun's agent runs the TCPStore; otherwise rank 0 does
};

// The rendezvous port of a Slurm job: kSlurmPortBase + job id mod kSlurmPortSpan, distinct per job so
// that array tasks sharing a node do not meet (the sbatch script exports it; srun steps without one fall
// back to it on one node).
constexpr int kSlurmPortBase = 20000;
constexpr int kSlurmPortSpan = 40000;

using EnvLookup = std::function<const char*(const char*)>;

// The launch of this process, or nullopt for a single process (no WORLD_SIZE, no multi-task srun step,
// or a world of 1). `lookup` is getenv unless a test passes its own.
std::optional<LaunchEnv> launch_env_from(const EnvLookup& lookup);
std::optional<LaunchEnv> launch_env();

// The command that starts `program` as `processes` ranks on this machine: torchrun --standalone
// --nproc-per-node=N --no-python PROGRAM, with torchrun from $OASIS_TORCHRUN, the PATH or the project's
// Python environment (.venv/bin). A RuntimeError when there is none.
std::vector<std::string> torchrun_command(int64_t processes, const std::filesystem::path& program);

}  // namespace oasis
