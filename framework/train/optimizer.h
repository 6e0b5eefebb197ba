// AdamW with decoupled weight decay in two parameter groups (decayed matrices; undecayed vectors --
// norm gains, routing queries, biases -- and embeddings unless train.decay_norms_and_embeddings), and the
// warmup + cosine learning-rate schedule.
#pragma once
#include <memory>

#include <torch/torch.h>

#include "framework/core/config.h"

namespace oasis {

// LibTorch's AdamW, stepped with multi-tensor (`_foreach`) operations: the same arithmetic in the same
// order, state and checkpoint format, so the parameters come out bit for bit the same (tested), but a
// handful of operations per parameter group instead of about ten per parameter -- on a GPU, where each is a
// kernel launch, that is ~1,500 launches fewer per step at GPT-2-small size. amsgrad is not supported.
class MultiTensorAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  at::Tensor step(LossClosure closure = nullptr) override;
};

std::unique_ptr<torch::optim::AdamW> make_optimizer(torch::nn::Module& model, const TrainConfig& train);

// Linear warmup from lr/warmup to lr over warmup_steps, then cosine decay to lr * min_lr_ratio at `steps`.
// `step` counts completed optimizer steps (the LR used for step 0 is lr_at(0)).
double lr_at(const TrainConfig& train, int64_t step);

void set_lr(torch::optim::Optimizer& optimizer, double lr);

// Drops every gradient (set to none, as PyTorch 2 does by default): the next backward writes fresh
// gradients instead of adding into zeroed ones, which saves a pass over all parameters each way.
void clear_gradients(torch::optim::Optimizer& optimizer);

}  // namespace oasis
