// `oasis bench CONFIG --ranks 1,2`: data-parallel scaling. Each rank count runs as its own launch (torchrun
// for more than one), the launches interleaved over --repeats rounds so a slow phase of the machine hits
// every count alike; the step is the trainer's (the config's grad_accum micro-batches dealt out to the
// ranks, gradients all-reduced in buckets). On the CPU the cores are fixed and split between the ranks
// (threads / ranks each), so the honest question is whether N ranks of 1/N of the cores beat 1 rank of
// all of them (efficiency = tokens/s of N ranks / tokens/s of 1 rank); on CUDA each rank has its own GPU
// and efficiency = tokens/s of N ranks / (N x tokens/s of 1 rank).
#include "cli/bench_scaling.h"

#include <map>

#include <fmt/format.h>

#include "cli/bench_child.h"
#include "framework/core/errors.h"
#include "framework/core/log.h"
#include "framework/core/paths.h"
#include "framework/core/runtime.h"
#include "framework/core/text.h"
#include "framework/dist/launch_env.h"
#include "framework/dist/process_group.h"
#include "framework/run/bench.h"
#include "framework/run/run_dir.h"

namespace oasis {
namespace {

// One launch of `ranks` processes; returns rank 0's step times.
std::vector<double> launch(const ScalingOptions& o, const std::string& preset, int64_t ranks, int64_t threads) {
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
  std::vector<std::string> args = ranks > 1 ? torchrun_command(ranks, self) : std::vector<std::string>{self.string()};
  args.insert(args.end(), {"bench", o.config_file});
  args.insert(args.end(), o.overrides.begin(), o.overrides.end());
  args.insert(args.end(), {"model.preset=" + preset, fmt::format("threads={}", threads), "--rank-child", "--steps",
                           std::to_string(o.steps), "--warmup", std::to_string(o.warmup)});
  return run_bench_child(args, true).result["step_ms"].get<std::vector<double>>();
}

}  // namespace

void run_scaling_child(const Config& config, int64_t steps, int64_t warmup) {
  const Distributed& dist = join_distributed(config, config_hash(config));
  SpeedTrial trial(config);
  std::vector<double> times;
  for (int64_t i = 0; i < warmup + steps; ++i) {
    const double ms = trial.step_ms();
    if (i >= warmup) times.push_back(ms);
  }
  // Every rank waits for the slowest in each step's all-reduce, so rank 0's times are the step's.
  if (dist.is_main()) print_bench_result({{"step_ms", times}});
}

nlohmann::json run_scaling(const ScalingOptions& o) {
  const Config config = load_config(o.config_file, o.overrides);
  const bool cuda = resolve_device(config.device).is_cuda();
  const int64_t total_threads = resolve_threads(config.threads);
  for (const int64_t ranks : o.ranks) {
    if (ranks < 1) throw ConfigError("oasis bench: --ranks takes positive counts, e.g. 1,2");
    if (config.train.grad_accum % ranks != 0)
      throw ConfigError(fmt::format("oasis bench: train.grad_accum = {} does not divide among {} ranks; set "
                                    "train.grad_accum to a multiple of every count in --ranks",
                                    config.train.grad_accum, ranks));
  }
  const int64_t tokens_per_step = config.train.batch_size * config.train.grad_accum * config.data.seq_len;
  std::vector<std::string> counts;
  for (const int64_t ranks : o.ranks) counts.push_back(std::to_string(ranks));
  log_line(fmt::format("bench scaling: {} | ranks {} | {} | {} | batch {} x {} x {} tokens per step | {} warm-up + {} "
                       "timed steps per launch, {} interleaved rounds",
                       o.config_file, join(counts, ","), cuda ? "cuda, one GPU per rank" : "cpu",
                       cuda ? fmt::format("{} threads per rank", total_threads)
                            : fmt::format("{} threads split between the ranks", total_threads),
                       config.train.batch_size, config.train.grad_accum, config.data.seq_len, o.warmup, o.steps,
                       o.repeats));
  nlohmann::json out = nlohmann::json::array();
  for (const auto& preset : o.presets) {
    std::map<int64_t, std::vector<double>> medians;  // ranks -> median step ms of each round
    for (int64_t round = 0; round < o.repeats; ++round)
      for (const int64_t ranks : o.ranks) {
        const int64_t threads = cuda ? total_threads : std::max<int64_t>(1, total_threads / ranks);
        medians[ranks].push_back(median(launch(o, preset, ranks, threads)));
        log_line(fmt::format("bench scaling: {} round {} | {} rank(s) | {:.2f} ms per step", preset, round + 1, ranks,
                             medians[ranks].back()));
      }
    const int64_t base_ranks = o.ranks.front();
    const double base_tokens_s = double(tokens_per_step) / (median(medians[base_ranks]) / 1000.0);
    for (const int64_t ranks : o.ranks) {
      const double step_ms = median(medians[ranks]);
      const double tokens_s = double(tokens_per_step) / (step_ms / 1000.0);
      const double hardware = cuda ? double(ranks) / double(base_ranks) : 1.0;  // GPUs grow, CPU cores do not
      out.push_back({{"preset", preset}, {"ranks", ranks}, {"device", cuda ? "cuda" : "cpu"},
                     {"threads_per_rank", cuda ? total_threads : std::max<int64_t>(1, total_threads / ranks)},
                     {"median_step_ms", step_ms}, {"tokens_per_s", tokens_s}, {"tokens_per_s_per_rank", tokens_s / double(ranks)},
                     {"scaling_efficiency", tokens_s / (base_tokens_s * hardware)}, {"round_median_step_ms", medians[ranks]},
                     {"tokens_per_step", tokens_per_step}});
    }
  }
  return out;
}

void render_scaling(const nlohmann::json& records) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : records)
    rows.push_back({r["preset"].get<std::string>(), std::to_string(r["ranks"].get<int64_t>()),
                    std::to_string(r["threads_per_rank"].get<int64_t>()), fmt::format("{:.2f}", r["median_step_ms"].get<double>()),
                    fmt::format("{:.0f}", r["tokens_per_s"].get<double>()),
                    fmt::format("{:.0f}", r["tokens_per_s_per_rank"].get<double>()),
                    fmt::format("{:.2f}", r["scaling_efficiency"].get<double>())});
  log_line(markdown_table({"preset", "ranks", "threads per rank", "step ms (median)", "tokens/s", "tokens/s per rank",
                           "scaling efficiency"},
                          rows));
}

}  // namespace oasis
