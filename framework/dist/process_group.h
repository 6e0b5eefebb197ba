// One run on several processes: this process's place in torch.distributed's c10d process group (Gloo
// for CPU tensors, NCCL for CUDA ones, a TCPStore for the rendezvous), plus what c10d leaves to the
// caller: every rank checks that all ranks run the same config, and a rank whose peer is lost stops with
// an error naming that rank instead of waiting. Each rank keeps a heartbeat counter in the store; when a
// collective fails, the ranks whose counter stopped are the lost ones, and a rank that fails by itself
// leaves its error message in the store for the others to quote.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/util/intrusive_ptr.h>

#include "framework/dist/launch_env.h"

namespace c10d {
class ProcessGroup;
}

namespace oasis {

struct Config;
struct DistConfig;
struct TrainConfig;

class Distributed {
 public:
  Distributed();  // a single process: rank 0 of 1, every collective is the identity
  // Joins the group `env` describes: the rendezvous, the config check (all ranks' `config_hash` equal),
  // the backends. Fails with an error naming the rendezvous address when it is not reached in time.
  Distributed(const LaunchEnv& env, const DistConfig& config, const std::string& config_hash, bool cuda);
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  int local_world_size() const { return env_.local_world_size; }
  bool is_main() const { return env_.rank == 0; }
  bool active() const { return env_.world_size > 1; }
  const std::string& backend() const { return backend_; }  // "none", "gloo" or "nccl"
  // The device of this rank: a CUDA device becomes cuda:LOCAL_RANK (one GPU per process).
  c10::Device place(const c10::Device& device) const;
  // "rank 1 of 2 (gloo, torchrun, rendezvous 127.0.0.1:29500)"; "single process" when not active.
  std::string describe() const;

  // Element-wise sums over the ranks (float64, over Gloo).
  std::vector<double> sum(std::vector<double> values) const;
  double sum(double value) const { return sum(std::vector<double>{value})[0]; }
  // Rank 0's values into every rank's tensors, in place (coalesced into few messages).
  void broadcast_from_main(const std::vector<at::Tensor>& tensors) const;
  // Every rank must pass the same `value`; otherwise each rank fails with an error naming the first rank
  // that differs (e.g. the checkpoint step each rank resumes from).
  void require_same(const std::string& what, const std::string& value) const;
  // Rank 0 says it reached `event` (with a short `value`); the others wait for that, and get the value,
  // without a time limit for as long as rank 0's heartbeat goes on (rank 0 may evaluate for hours while
  // they wait), and fail once it stops.
  void announce(const std::string& event, const std::string& value = "") const;
  std::string wait_for_main(const std::string& event) const;

  // Leaves this rank's error for the other ranks to quote (best effort; never throws).
  void report_failure(const std::string& message) const noexcept;
  // The error to stop with after `error` broke a collective during `during`: names the ranks that are
  // gone or failed (waiting a few heartbeats to tell), or says that none is when this rank failed alone.
  std::string explain_failure(const std::exception& error, const std::string& during) const;

  // Ends this rank's part (leave_distributed). Never throws.
  void leave(bool failed) noexcept;

  // The c10d group, for the gradient all-reduce (dist/gradient_sync.cpp); null when not active.
  const c10::intrusive_ptr<c10d::ProcessGroup>& group() const;

 private:
  struct Impl;
  LaunchEnv env_;
  std::string backend_ = "none";
  std::unique_ptr<Impl> impl_;
};

// Whether `error` came from communication (c10d's DistError family; Gloo's own exceptions, which a broken
// connection raises as they are), not from this rank's own work. Defined in backends.cpp, which knows
// Gloo's types.
bool is_communication_error(const std::exception& error);

// A step's grad_accum micro-batches dealt out to the ranks: rank r runs `per_rank` of them, the step's
// micro-batches r * per_rank ..., so that all ranks together read the step's windows, each rank in the
// order one process accumulating them would.
struct RankShare {
  int64_t per_rank = 1;
  int64_t batch_size = 1;
  int rank = 0;
  // The first window of this rank's micro-batch `micro` in a step whose windows start at `step_start`.
  int64_t first_window(int64_t step_start, int64_t micro) const {
    return step_start + (int64_t(rank) * per_rank + micro) * batch_size;
  }
};

// This rank's share of a step of `schedule`. A ConfigError naming `stage`.grad_accum (stage: the config
// section, train or finetune) when the micro-batches do not divide among the ranks.
RankShare share_of_step(const std::string& stage, const TrainConfig& schedule, const Distributed& group);

// This process's group: a single process until join_distributed has joined the launch's.
const Distributed& distributed();

// Joins the group of the launch environment (torchrun / srun variables) once per process; a single
// process when there is none. Checks the launch against dist.nodes x dist.procs_per_node when the config
// asks for more than one process. From then on only rank 0 prints progress (log.h).
const Distributed& join_distributed(const Config& config, const std::string& config_hash);

// Ends this process's part: rank 0, which may host the rendezvous store, stays until every other rank
// has left or gone quiet, so none of them loses the store while still reading it. A rank that `failed`
// first closes its connections, so that peers blocked in a collective with it fail at once (and then
// read its error from the store) instead of after dist.timeout_s. Never throws.
void leave_distributed(bool failed) noexcept;

}  // namespace oasis
