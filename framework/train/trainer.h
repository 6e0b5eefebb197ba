// The training loop: AdamW with warmup + cosine LR, gradient accumulation and clipping, periodic
// validation and checkpoints, metrics.jsonl, a progress bar on a terminal. It resumes from the newest
// complete checkpoint in the run directory and then continues exactly as an uninterrupted run would.
#pragma once
#include <filesystem>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "framework/core/config.h"
#include "framework/train/checkpoint.h"

namespace oasis {

class LanguageModel;
struct TokenizedData;
struct Batch;

// Mean next-token cross-entropy of `model` on a batch (moved to `device`).
at::Tensor lm_loss(LanguageModel& model, const Batch& batch, const c10::Device& device);

struct TrainResult {
  TrainState state;
  bool resumed_from_checkpoint = false;
};

TrainResult train_model(const Config& config, const std::filesystem::path& run_dir, LanguageModel& model,
                        const TokenizedData& data);

}  // namespace oasis
