// AdamW with decoupled weight decay in two parameter groups (decayed matrices; undecayed vectors --
// norm gains, routing queries, biases -- and embeddings unless train.decay_norms_and_embeddings), and the
// warmup + cosine learning-rate schedule.
#pragma once
#include <memory>

#include <torch/torch.h>

#include "framework/core/config.h"

namespace oasis {

std::unique_ptr<torch::optim::AdamW> make_optimizer(torch::nn::Module& model, const TrainConfig& train);

// Linear warmup from lr/warmup to lr over warmup_steps, then cosine decay to lr * min_lr_ratio at `steps`.
// `step` counts completed optimizer steps (the LR used for step 0 is lr_at(0)).
double lr_at(const TrainConfig& train, int64_t step);

void set_lr(torch::optim::Optimizer& optimizer, double lr);

// Drops every gradient (set to none, as PyTorch 2 does by default): the next backward writes fresh
// gradients instead of adding into zeroed ones, which saves a pass over all parameters each way.
void clear_gradients(torch::optim::Optimizer& optimizer);

}  // namespace oasis
