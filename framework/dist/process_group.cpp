#include "framework/dist/process_group.h"

#include <sys/prctl.h>

#include <algorithm>
#include <csignal>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/torch.h>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/log.h"
#include "framework/core/runtime.h"
#include "framework/dist/backends.h"

namespace oasis {
namespace {

using Millis = std::chrono::milliseconds;
constexpr Millis kHeartbeat{1000};
// A rank whose heartbeat counter has not moved for this long is taken for gone.
constexpr Millis kSilence{3500};
// Store calls of the heartbeat and the failure probes: short, so a dead store is noticed quickly.
constexpr Millis kProbeTimeout{5000};

std::string heartbeat_key(int rank) { return fmt::format("oasis/heartbeat/{}", rank); }
std::string failure_key(int rank) { return fmt::format("oasis/failed/{}", rank); }
std::string left_key(int rank) { return fmt::format("oasis/left/{}", rank); }

std::string first_line(const std::exception& e) {
  std::string text = message_without_backtrace(e);
  if (const auto end = text.find('\n'); end != std::string::npos) text.resize(end);
  return text;
}

std::string store_text(c10d::Store& store, const std::string& key) {
  const std::vector<uint8_t> bytes = store.get(key);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

struct Distributed::Impl {
  std::string address;  // host:port of the rendezvous store
  bool hosts_store = false;  // this process runs the store (rank 0 unless torchrun's agent does)
  Millis timeout{0};
  c10::intrusive_ptr<c10d::Store> store;  // rendezvous, config check, events
  c10::intrusive_ptr<c10d::ProcessGroup> group;

  // A connection of its own for the heartbeat and the failure probes, which run while `store` may be
  // blocked in a call.
  std::mutex watch_mutex;
  c10::intrusive_ptr<c10d::Store> watch;
  std::thread heartbeat;
  std::mutex stop_mutex;
  std::condition_variable stop_signal;
  bool stopping = false;

  // Also when the constructor of Distributed fails after the heartbeat started.
  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(stop_mutex);
      stopping = true;
    }
    stop_signal.notify_all();
    if (heartbeat.joinable()) heartbeat.join();
  }

  // `counted`: the connection that joins the rendezvous (the host waits until all ranks' have); a
  // second connection of a rank must not count again.
  c10::intrusive_ptr<c10d::Store> connect(const LaunchEnv& env, bool server, bool counted, Millis wait) const {
    c10d::TCPStoreOptions options;
    options.port = uint16_t(env.master_port);
    options.isServer = server;
    options.numWorkers = counted ? std::optional<size_t>(size_t(env.world_size)) : std::nullopt;
    options.waitWorkers = counted;
    options.timeout = wait;
    return c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
  }

  // Rank `rank`'s heartbeat counter, through the watch connection.
  int64_t heartbeat_of(int rank) {
    std::lock_guard<std::mutex> lock(watch_mutex);
    return watch->add(heartbeat_key(rank), 0);
  }

  // Polls until `key` is in the store (its value) or `peer`'s heartbeat has stood still for kSilence
  // (nullopt). `check` runs on every poll and may throw. Store errors propagate.
  std::optional<std::string> wait_for_key(const std::string& key, int peer, const std::function<void()>& check = {}) {
    int64_t last_beat = -1;
    auto last_change = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - last_change < kSilence) {
      {
        std::lock_guard<std::mutex> lock(watch_mutex);
        if (watch->check({key})) return store_text(*watch, key);
      }
      if (check) check();
      if (const int64_t beat = heartbeat_of(peer); beat != last_beat) {
        last_beat = beat;
        last_change = std::chrono::steady_clock::now();
      }
      std::this_thread::sleep_for(Millis(100));
    }
    return std::nullopt;
  }

  std::optional<std::string> reported_failure(int rank) {
    std::lock_guard<std::mutex> lock(watch_mutex);
    if (!watch->check({failure_key(rank)})) return std::nullopt;
    return store_text(*watch, failure_key(rank));
  }
};

Distributed::Distributed() = default;

Distributed::Distributed(const LaunchEnv& env, const DistConfig& config, const std::string& config_hash, bool cuda)
    : env_(env), impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.address = fmt::format("{}:{}", env.master_addr, env.master_port);
  d.timeout = Millis(int64_t(config.timeout_s * 1000));
  const bool hosts_store = env.rank == 0 && !env.launcher_hosts_store;
  d.hosts_store = hosts_store;
  try {
    d.store = d.connect(env, hosts_store, true, d.timeout);
    d.watch = d.connect(env, false, false, kProbeTimeout);
  } catch (const std::exception& e) {
    throw RuntimeError(fmt::format(
        "distributed: rank {} of {} could not {} the rendezvous store at {} within dist.timeout_s = {} s ({}); every "
        "rank must start within that time with the same WORLD_SIZE, MASTER_ADDR and MASTER_PORT{}",
        env.rank, env.world_size, hosts_store ? "gather every rank at" : "reach", d.address, config.timeout_s,
        first_line(e), env.launcher_hosts_store ? " (torchrun's agent hosts it)" : ", and rank 0 hosts it"));
  }
  d.heartbeat = std::thread([&d, rank = env.rank] {
    std::unique_lock<std::mutex> lock(d.stop_mutex);
    while (!d.stopping) {
      try {
        std::lock_guard<std::mutex> watch_lock(d.watch_mutex);
        d.watch->add(heartbeat_key(rank), 1);
      } catch (const std::exception&) {
        return;  // the store is gone; whoever needs it reports that
      }
      d.stop_signal.wait_for(lock, kHeartbeat);
    }
  });
  require_same("config hash", config_hash);

  std::string backend = config.backend;
  if (backend == "auto") backend = cuda ? "nccl" : "gloo";
  if (backend == "nccl" && !cuda)
    throw ConfigError("dist.backend: nccl all-reduces CUDA tensors; this run's device is the CPU (use gloo or auto)");
  backend_ = backend;
  try {
    d.group = c10::make_intrusive<c10d::ProcessGroup>(d.store, env.rank, env.world_size);
    // Gloo always carries the CPU tensors (losses, metrics); NCCL, when chosen, the CUDA ones.
    auto gloo = make_gloo_backend(c10::make_intrusive<c10d::PrefixStore>("gloo", d.store), env.rank, env.world_size,
                                  d.timeout);
    d.group->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, gloo);
    d.group->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
    if (backend == "nccl") {
      auto nccl = make_nccl_backend(c10::make_intrusive<c10d::PrefixStore>("nccl", d.store), env.rank, env.world_size,
                                    d.timeout);
      d.group->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL, nccl);
      d.group->setDefaultBackend(c10d::ProcessGroup::BackendType::NCCL);
    }
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    throw RuntimeError(fmt::format("distributed: rank {} of {} could not set up the {} backend through {} ({})", env.rank,
                                   env.world_size, backend, d.address, first_line(e)));
  }
}

Distributed::~Distributed() = default;

c10::Device Distributed::place(const c10::Device& device) const {
  return device.is_cuda() && active() ? c10::Device(c10::kCUDA, c10::DeviceIndex(local_rank())) : device;
}

std::string Distributed::describe() const {
  if (!active()) return "single process";
  return fmt::format("rank {} of {} ({}, {}, rendezvous {})", rank(), world_size(), backend_, env_.launcher,
                     impl_->address);
}

const c10::intrusive_ptr<c10d::ProcessGroup>& Distributed::group() const {
  static const c10::intrusive_ptr<c10d::ProcessGroup> none;
  return impl_ ? impl_->group : none;
}

std::vector<double> Distributed::sum(std::vector<double> values) const {
  if (!active() || values.empty()) return values;
  std::vector<at::Tensor> buffer = {torch::tensor(values, torch::kFloat64)};
  impl_->group->allreduce(buffer)->wait();
  const double* out = buffer[0].data_ptr<double>();
  return std::vector<double>(out, out + values.size());
}

void Distributed::broadcast_from_main(const std::vector<at::Tensor>& tensors) const {
  if (!active() || tensors.empty()) return;
  torch::NoGradGuard no_grad;  // parameters are written in place
  c10d::broadcast_coalesced(impl_->group, tensors, size_t(256) << 20, 0);
}

void Distributed::require_same(const std::string& what, const std::string& value) const {
  if (!active()) return;
  const std::string prefix = "oasis/same/" + what + "/";
  impl_->store->set(prefix + std::to_string(rank()), std::vector<uint8_t>(value.begin(), value.end()));
  std::string mismatch;
  for (int r = 0; r < world_size() && mismatch.empty(); ++r) {
    const std::string theirs = store_text(*impl_->store, prefix + std::to_string(r));
    if (theirs != value)
      mismatch = fmt::format(
          "distributed: rank {} has {} {} but rank {} has {}; every rank must run the same config file with the same "
          "key=value overrides (and the same run directory)",
          r, what, theirs, rank(), value);
  }
  // Every rank has compared before any fails: a failing store host would take the values with it.
  const auto wait_for_all = [&](const std::string& counter) {
    impl_->store->add(prefix + counter, 1);
    const auto deadline = std::chrono::steady_clock::now() + impl_->timeout;
    while (impl_->store->add(prefix + counter, 0) < world_size() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(Millis(10));
  };
  wait_for_all("compared");
  if (mismatch.empty()) return;
  // And the host stays until every rank is past its last store call.
  if (impl_->hosts_store)
    wait_for_all("failing");
  else
    impl_->store->add(prefix + "failing", 1);
  throw ConfigError(mismatch);
}

void Distributed::announce(const std::string& event, const std::string& value) const {
  if (!active() || !is_main()) return;
  impl_->store->set("oasis/event/" + event, std::vector<uint8_t>(value.begin(), value.end()));
}

std::string Distributed::wait_for_main(const std::string& event) const {
  if (!active() || is_main()) return "";
  std::optional<std::string> value;
  try {
    value = impl_->wait_for_key("oasis/event/" + event, 0, [&] {
      if (const auto failure = impl_->reported_failure(0))
        throw RuntimeError(fmt::format("distributed: rank 0 failed while rank {} waited for it ({}): {}", rank(), event,
                                       *failure));
    });
  } catch (const RuntimeError&) {
    throw;
  } catch (const std::exception& e) {
    throw RuntimeError(fmt::format("distributed: rank 0 is gone (its store at {} no longer answers: {}) while rank {} "
                                   "waited for it ({})",
                                   impl_->address, first_line(e), rank(), event));
  }
  if (!value)
    throw RuntimeError(fmt::format("distributed: rank 0 is gone (no heartbeat for {:.1f} s) while rank {} waited for "
                                   "it ({})",
                                   kSilence.count() / 1000.0, rank(), event));
  return *value;
}

void Distributed::report_failure(const std::string& message) const noexcept {
  if (!active()) return;
  try {
    std::lock_guard<std::mutex> lock(impl_->watch_mutex);
    impl_->watch->set(failure_key(rank()), std::vector<uint8_t>(message.begin(), message.end()));
  } catch (...) {
  }
}

std::string Distributed::explain_failure(const std::exception& error, const std::string& during) const {
  const std::string cause = first_line(error);
  if (!active()) return cause;
  std::vector<std::string> culprits;
  try {
    // A rank that failed by itself says why; the others are found by their silent heartbeats.
    std::vector<int64_t> before;
    for (int r = 0; r < world_size(); ++r) before.push_back(impl_->heartbeat_of(r));
    std::this_thread::sleep_for(kSilence);
    for (int r = 0; r < world_size(); ++r) {
      if (r == rank()) continue;
      if (const auto failure = impl_->reported_failure(r))
        culprits.push_back(fmt::format("rank {} failed: {}", r, *failure));
      else if (impl_->heartbeat_of(r) == before[size_t(r)])
        culprits.push_back(fmt::format("rank {} is gone (no heartbeat for {:.1f} s: its process ended or its host is "
                                       "unreachable)",
                                       r, kSilence.count() / 1000.0));
    }
  } catch (const std::exception& e) {
    culprits.push_back(env_.launcher_hosts_store
                           ? fmt::format("the launcher's rendezvous store at {} no longer answers ({})", impl_->address,
                                         first_line(e))
                           : fmt::format("rank 0 is gone (the rendezvous store it hosts at {} no longer answers)",
                                         impl_->address));
  }
  if (culprits.empty())
    return fmt::format("distributed: rank {} of {} failed during {} while every other rank is alive: {}", rank(),
                       world_size(), during, cause);
  std::string list;
  for (const auto& c : culprits) list += (list.empty() ? "" : "; ") + c;
  return fmt::format("distributed: {} (of {} ranks), noticed by rank {} during {} ({})", list, world_size(), rank(),
                     during, cause);
}

void Distributed::leave(bool failed) noexcept {
  if (!active()) return;
  try {
    if (failed) impl_->group.reset();  // the Gloo/NCCL connections close with the last reference
    if (!is_main()) {
      std::lock_guard<std::mutex> lock(impl_->watch_mutex);
      impl_->watch->set(left_key(rank()), std::vector<uint8_t>{1});
      return;
    }
    for (int r = 1; r < world_size(); ++r) impl_->wait_for_key(left_key(r), r);  // keep the store up for them
  } catch (...) {
  }
}

RankShare share_of_step(const std::string& stage, const TrainConfig& t, const Distributed& group) {
  const int64_t ranks = group.world_size();
  if (t.grad_accum % ranks != 0)
    throw ConfigError(fmt::format(
        "{0}.grad_accum = {1} is not divisible by the {2} ranks: a step's {1} micro-batches of {0}.batch_size are "
        "dealt out whole, grad_accum / ranks to each rank; set {0}.grad_accum to a multiple of {2} (the global batch "
        "is {0}.batch_size x {0}.grad_accum windows on any number of ranks)",
        stage, t.grad_accum, ranks));
  return {t.grad_accum / ranks, t.batch_size, group.rank()};
}

namespace {
std::unique_ptr<Distributed>& current() {
  static std::unique_ptr<Distributed> group = std::make_unique<Distributed>();
  return group;
}
bool joined = false;
}  // namespace

const Distributed& distributed() { return *current(); }

const Distributed& join_distributed(const Config& config, const std::string& config_hash) {
  if (joined) return *current();
  joined = true;
  const auto env = launch_env();
  const int64_t asked = config.dist.nodes * config.dist.procs_per_node;
  const int launched = env ? env->world_size : 1;
  if (asked > 1 && asked != launched)
    throw ConfigError(fmt::format(
        "dist.nodes x dist.procs_per_node = {} x {} = {} processes, but this one was launched {}; launch it with "
        "`torchrun --nproc-per-node {} --no-python oasis ...` (or through `oasis run`, which does), or set dist.nodes=1 "
        "dist.procs_per_node=1",
        config.dist.nodes, config.dist.procs_per_node, asked,
        env ? fmt::format("as one of WORLD_SIZE = {}", launched) : std::string("alone (no WORLD_SIZE)"),
        config.dist.procs_per_node));
  if (!env) return *current();
  // torchrun's workers end with it, even when it is killed (the sweep runner's children die with it).
  if (env->launcher == "torchrun") ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  current() = std::make_unique<Distributed>(*env, config.dist, config_hash, resolve_device(config.device).is_cuda());
  set_console_quiet(!current()->is_main());
  share_of_step("train", config.train, *current());  // before anything is written
  if (config.finetune.steps > 0) share_of_step("finetune", config.finetune, *current());
  return *current();
}

void leave_distributed(bool failed) noexcept {
  current()->leave(failed);
  current() = std::make_unique<Distributed>();
}

}  // namespace oasis
