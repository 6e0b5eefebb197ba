// The training loop: AdamW with warmup + cosine LR, gradient accumulation and clipping, periodic
// validation and checkpoints, metrics.jsonl, a progress bar on a terminal. It resumes from the newest
// complete checkpoint in the run directory and then continues exactly as an uninterrupted run would.
#pragma once
#include <filesystem>
#include <functional>
#include <string>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>
#include <c10/core/Device.h>

#include "framework/core/config.h"
#include "framework/data/batches.h"
#include "framework/train/checkpoint.h"
#include "framework/train/init_from.h"

namespace oasis {

class LanguageModel;
struct TokenizedData;

// Mean next-token cross-entropy of `model` on a batch (moved to `device`).
at::Tensor lm_loss(LanguageModel& model, const Batch& batch, const c10::Device& device);

struct TrainResult {
  TrainState state;
  bool resumed_from_checkpoint = false;
};

// What a training stage reads: samples [first, first + count) of its stream (targets -100 are not
// scored), and the fixed validation batches.
struct StageData {
  std::function<Batch(int64_t first, int64_t count)> train;
  Batch validation;  // eval_batches * batch_size rows
  // The dataset's task metrics on the validation batches (Bigram-Backcopy's copy accuracy), if it has any.
  std::function<nlohmann::json(LanguageModel&, const Batch&)> task_scores;
  // The model's start when there is no checkpoint yet (model.init_from); its new parameters get train.new_lr.
  const PretrainedStart* pretrained = nullptr;
};

// One stage (pretraining, fine-tuning) with `schedule`; checkpoints and metrics.jsonl live in `dir`.
TrainResult train_stage(const std::string& name, const Config& config, const TrainConfig& schedule,
                        const std::filesystem::path& dir, LanguageModel& model, const StageData& data);

// Pretraining on the corpus windows: the `train` stage in the run directory itself.
TrainResult train_model(const Config& config, const std::filesystem::path& run_dir, LanguageModel& model,
                        const TokenizedData& data);

}  // namespace oasis
