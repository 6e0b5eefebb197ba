#include "framework/train/trainer.h"

#include <chrono>
#include <cmath>

#include <fmt/format.h>
#include <torch/torch.h>

#include "framework/core/errors.h"
#include "framework/core/log.h"
#include "framework/data/batches.h"
#include "framework/data/token_data.h"
#include "framework/dist/gradient_sync.h"
#include "framework/dist/process_group.h"
#include "framework/eval/backcopy_scores.h"
#include "framework/model/language_model.h"
#include "framework/stats/collect.h"
#include "framework/stats/summary_metrics.h"
#include "framework/train/metrics_log.h"
#include "framework/train/optimizer.h"

namespace oasis {
namespace F = torch::nn::functional;
using Clock = std::chrono::steady_clock;

at::Tensor lm_loss(LanguageModel& model, const Batch& batch, const c10::Device& device) {
  auto logits = model.forward(batch.inputs.to(device));
  return F::cross_entropy(logits.reshape({-1, logits.size(-1)}).to(torch::kFloat), batch.targets.to(device).view(-1));
}

namespace {

// The mean loss over the validation batches; with several ranks each takes every world_size-th batch.
double validation_loss(LanguageModel& model, const Batch& all, const TrainConfig& t, const c10::Device& device,
                       const Distributed& dist) {
  torch::NoGradGuard no_grad;
  model.eval();
  double sum = 0;
  for (int64_t i = dist.rank(); i < t.eval_batches; i += dist.world_size()) {
    Batch b{all.inputs.narrow(0, i * t.batch_size, t.batch_size), all.targets.narrow(0, i * t.batch_size, t.batch_size)};
    sum += lm_loss(model, b, device).item<double>();
  }
  model.train();
  return dist.sum(sum) / double(t.eval_batches);
}

// The statistics summary over the first batch_size validation windows (the same at every validation).
SchemeStats watch_statistics(LanguageModel& model, const Batch& validation, const Config& config,
                             const TrainConfig& t) {
  StatsConfig options = config.stats;
  options.batch_size = t.batch_size;
  options.map_sequences = 0;
  return collect_statistics(model, validation.inputs.narrow(0, 0, t.batch_size), options);
}

}  // namespace

TrainResult train_model(const Config& config, const std::filesystem::path& run_dir, LanguageModel& model,
                        const TokenizedData& data) {
  const TrainConfig& t = config.train;
  const int32_t eot = data.tokenizer->end_of_text();
  // Owned by the closure: the stage reads the stream through it.
  const int64_t period = data.corpus.window_period;
  auto windows = std::make_shared<WindowSampler>(data.split("train"), config.data.seq_len, config.data.bos, eot,
                                                 uint64_t(config.seed), period);
  const WindowSampler valid_windows(data.split("valid"), config.data.seq_len, config.data.bos, eot,
                                    uint64_t(config.seed), period);
  StageData stage{[windows](int64_t first, int64_t count) { return windows->batch(first, count); },
                  valid_windows.evenly_spaced(t.eval_batches * t.batch_size), {}};
  if (const auto task = data.corpus.backcopy)
    stage.task_scores = [task, &data, &t](LanguageModel& m, const Batch& windows) {
      return score_backcopy(m, windows, *task, *data.tokenizer, t.batch_size).to_json();
    };
  const PretrainedStart pretrained = read_pretrained_start(config, model);
  stage.pretrained = &pretrained;
  return train_stage("train", config, t, run_dir, model, stage);
}

TrainResult train_stage(const std::string& name, const Config& config, const TrainConfig& t,
                        const std::filesystem::path& run_dir, LanguageModel& model, const StageData& data) {
  const Distributed& dist = distributed();
  const RankShare share = share_of_step(name, t, dist);
  const auto device = model.parameters().front().device();
  auto optimizer = make_optimizer(model, t, data.pretrained ? data.pretrained->new_parameters : std::set<std::string>{});
  TrainResult result;
  if (dist.is_main()) std::filesystem::create_directories(run_dir);

  const auto latest = latest_checkpoint(run_dir);
  dist.require_same(name + " resume checkpoint", latest ? latest->filename().string() : "none");
  if (latest) {
    result.state = load_checkpoint(*latest, model, optimizer.get());
    result.resumed_from_checkpoint = true;
    log_line(fmt::format("{}: resume from {} (step {}, {} samples read)", name, latest->string(), result.state.step,
                         result.state.samples_consumed));
  } else if (data.pretrained) {
    apply_pretrained_start(*data.pretrained, model);
  }
  TrainState& state = result.state;
  std::optional<MetricsLog> metrics;  // rank 0 writes the run's files
  if (dist.is_main()) metrics.emplace(run_dir / "metrics.jsonl", state.step);
  std::vector<at::Tensor> params = model.parameters();
  GradientSync gradients(dist, model.named_parameters(), config.dist.bucket_mb);
  if (dist.active())
    log_line(fmt::format("{}: {} ranks x {} micro-batches of {} per step, gradients in {} buckets of <= {} MiB ({})", name,
                         dist.world_size(), share.per_rank, t.batch_size, gradients.buckets(), config.dist.bucket_mb,
                         dist.backend()));

  model.train();
  Progress progress(name, t.steps, state.step);
  auto window_start = Clock::now();
  const auto run_start = Clock::now();
  const double elapsed_before = state.elapsed_s;
  int64_t window_tokens = 0;
  try {
    while (state.step < t.steps) {
      const double lr = lr_at(t, state.step);
      set_lr(*optimizer, lr);
      clear_gradients(*optimizer);
      double local_loss = 0;
      int64_t local_tokens = 0;
      for (int64_t micro = 0; micro < share.per_rank; ++micro) {
        const Batch batch = data.train(share.first_window(state.samples_consumed, micro), t.batch_size);
        local_tokens += batch.inputs.numel();
        auto loss = lm_loss(model, batch, device) / double(share.per_rank);
        if (micro == share.per_rank - 1) gradients.expect_sync();
        loss.backward();
        local_loss += loss.item<double>();
      }
      state.samples_consumed += t.batch_size * t.grad_accum;
      const std::vector<double> totals = dist.sum({local_loss / double(dist.world_size()), double(local_tokens)});
      const double step_loss = totals[0];
      const auto step_tokens = int64_t(totals[1]);
      if (!std::isfinite(step_loss)) {
        auto last = latest_checkpoint(run_dir);
        throw RuntimeError(fmt::format("step {}: training loss is {} (lr {:.3g}); last good checkpoint: {}",
                                       state.step + 1, step_loss, lr, last ? last->string() : "none"));
      }
      const double max_norm = t.grad_clip > 0 ? t.grad_clip : std::numeric_limits<double>::infinity();
      const double grad_norm = torch::nn::utils::clip_grad_norm_(params, max_norm);
      optimizer->step();
      state.step += 1;
      state.tokens_seen += step_tokens;
      window_tokens += step_tokens;
      state.last_loss = step_loss;

      const bool last_step = state.step == t.steps;
      if (state.step % t.log_every == 0 || last_step) {
        const double tok_s = double(window_tokens) / seconds_since(window_start);
        if (metrics)
          metrics->append({{"step", state.step}, {"loss", step_loss}, {"lr", lr}, {"grad_norm", grad_norm},
                           {"tokens_per_s", tok_s}, {"tokens_seen", state.tokens_seen}});
        const std::string status =
            fmt::format("loss {:.4f} lr {:.2e} norm {:.3f} {:.0f} tok/s", step_loss, lr, grad_norm, tok_s);
        if (Progress::interactive())
          progress.update(state.step, status);
        else
          log_line(fmt::format("{} {:>6}/{} | {}", name, state.step, t.steps, status));
        window_start = Clock::now();
        window_tokens = 0;
      }
      if ((t.eval_every > 0 && state.step % t.eval_every == 0) || last_step) {
        state.last_val_loss = validation_loss(model, data.validation, t, device, dist);
        if (metrics) {  // the task scores and statistics only inform rank 0's log and metrics
          nlohmann::json record = {{"step", state.step}, {"val_loss", state.last_val_loss},
                                   {"val_ppl", std::exp(state.last_val_loss)}};
          std::string watched;
          if (data.task_scores) {
            const nlohmann::json scores = data.task_scores(model, data.validation);
            record.update(scores);
            watched += fmt::format(" | copy acc {:.3f} bigram loss {:.3f} (optimum {:.3f})",
                                   scores["copy_accuracy"].get<double>(), scores["bigram_loss"].get<double>(),
                                   scores["bigram_optimum"].get<double>());
          }
          if (t.watch_stats) {  // where sinks and outliers stand, so a run's size can be chosen from evidence
            const SchemeStats watched_stats = watch_statistics(model, data.validation, config, t);
            const StatsSummary w = watched_stats.summary();
            for (const auto& m : summary_metrics())
              if (m.watched) record[m.name] = w.*m.value;
            record["first_token_vs_uniform_per_head"] = watched_stats.first_token_vs_uniform_per_head();
            watched += " | " + watched_summary_text(w);
          }
          metrics->append(record);
          log_line(fmt::format("{} {:>6}/{} | val loss {:.4f} ppl {:.2f}{}", name, state.step, t.steps,
                               state.last_val_loss, std::exp(state.last_val_loss), watched));
        }
        window_start = Clock::now();  // keep validation time out of tokens/s
      }
      if ((t.checkpoint_every > 0 && state.step % t.checkpoint_every == 0) || last_step) {
        state.elapsed_s = elapsed_before + seconds_since(run_start);
        if (dist.is_main()) save_checkpoint(run_dir, state, model, *optimizer, t.keep_checkpoints);
        window_start = Clock::now();
      }
    }
  } catch (const std::exception& e) {
    // A collective that failed (c10d's errors, Gloo's I/O errors) means a peer may be gone: say which.
    // This rank's own errors (a bad file, NaN) go up as they are; the others learn of them from the store.
    if (!dist.active() || !is_communication_error(e)) throw;
    const auto last = latest_checkpoint(run_dir);
    throw RuntimeError(fmt::format("{}; the last checkpoint is {}: launch the run again to resume from it",
                                   dist.explain_failure(e, fmt::format("{} step {}", name, state.step + 1)),
                                   last ? last->string() : "none (it starts over)"));
  }
  progress.finish();
  state.elapsed_s = elapsed_before + seconds_since(run_start);
  if (t.steps == 0 && !result.resumed_from_checkpoint && dist.is_main())  // the initialised model, evaluable like any other
    save_checkpoint(run_dir, state, model, *optimizer, t.keep_checkpoints);
  return result;
}

}  // namespace oasis
