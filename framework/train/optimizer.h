// AdamW with decoupled weight decay in two parameter groups (decayed matrices; undecayed vectors --
// norm gains, routing queries, biases -- and embeddings unless train.decay_norms_and_embeddings), two more
// for the parameters a model.init_from run did not supply (at train.new_lr), and the warmup + cosine
// learning-rate schedule.
#pragma once
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <torch/torch.h>

#include "framework/core/config.h"

namespace oasis {

// LibTorch's AdamW, stepped with multi-tensor (`_foreach`) operations: the same arithmetic in the same
// order, state and checkpoint format, so the parameters come out bit for bit the same (tested), but a
// handful of operations per parameter group instead of about ten per parameter -- on a GPU, where each is a
// kernel launch, that is ~1,500 launches fewer per step at GPT-2-small size. amsgrad is not supported.
// LibTorch's AdamW plus the ratio of each parameter group's LR to the schedule's (set_lr applies it).
class ScheduledAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  std::vector<double> lr_scale;  // per group; missing entries are 1
};

class MultiTensorAdamW : public ScheduledAdamW {
 public:
  using ScheduledAdamW::ScheduledAdamW;
  at::Tensor step(LossClosure closure = nullptr) override;
};

// LibTorch's fused AdamW kernel (at::_fused_adamw_, as PyTorch's `AdamW(fused=True)`): one pass over each
// group's tensors. Same arithmetic as AdamW up to rounding (within 1e-6 of it after 5 steps; tested), same
// state and checkpoint format. The kernel reads each step count as a float tensor on the parameter's device;
// those mirror AdamWParamState::step, which stays the checkpointed count.
class FusedAdamW : public ScheduledAdamW {
 public:
  using ScheduledAdamW::ScheduledAdamW;
  at::Tensor step(LossClosure closure = nullptr) override;

 private:
  struct DeviceStep {
    int64_t count = -1;
    at::Tensor value;
  };
  std::unordered_map<void*, DeviceStep> device_steps_;
};

// train.adamw_kernel resolved for parameters on `device`: "foreach" or "fused".
std::string resolve_adamw_kernel(const std::string& configured, const c10::Device& device);

// AdamW over the model's groups (decayed, undecayed; the same two for `new_parameters`, at train.new_lr, when
// any) with the configured kernel for the model's device.
std::unique_ptr<torch::optim::AdamW> make_optimizer(torch::nn::Module& model, const TrainConfig& train,
                                                    const std::set<std::string>& new_parameters = {});

// "adamw-foreach" or "adamw-fused": which implementation stepped this optimizer (checkpoints record it).
std::string optimizer_name(const torch::optim::Optimizer& optimizer);

// Linear warmup from lr/warmup to lr over warmup_steps, then cosine decay to lr * min_lr_ratio at `steps`.
// `step` counts completed optimizer steps (the LR used for step 0 is lr_at(0)).
double lr_at(const TrainConfig& train, int64_t step);

// Sets every group's LR to `lr` times its ScheduledAdamW::lr_scale.
void set_lr(torch::optim::Optimizer& optimizer, double lr);

// Drops every gradient (set to none, as PyTorch 2 does by default): the next backward writes fresh
// gradients instead of adding into zeroed ones, which saves a pass over all parameters each way.
void clear_gradients(torch::optim::Optimizer& optimizer);

}  // namespace oasis
