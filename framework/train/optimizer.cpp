#include "framework/train/optimizer.h"

#include <cmath>


namespace oasis {

std::string resolve_adamw_kernel(const std::string& configured, const c10::Device& device) {
  if (configured == "auto") return device.is_cuda() ? "fused" : "foreach";
  return configured;
}

std::string optimizer_name(const torch::optim::Optimizer& optimizer) {
  if (dynamic_cast<const FusedAdamW*>(&optimizer)) return "adamw-fused";
  if (dynamic_cast<const MultiTensorAdamW*>(&optimizer)) return "adamw-foreach";
  return "adamw";
}

std::unique_ptr<torch::optim::AdamW> make_optimizer(torch::nn::Module& model, const TrainConfig& t,
                                                    const std::set<std::string>& new_parameters) {
  std::vector<torch::Tensor> decay, no_decay, new_decay, new_no_decay;
  for (const auto& p : model.named_parameters()) {
    // Matrices decay; vectors and scalars (norm gains, routing queries, gate biases, sink logits) and
    // embeddings do not, unless asked.
    const bool exempt = p.value().dim() < 2 || p.key().find("embed") != std::string::npos;
    const bool is_new = new_parameters.count(p.key()) > 0;
    auto& group = exempt && !t.decay_norms_and_embeddings ? (is_new ? new_no_decay : no_decay) : (is_new ? new_decay : decay);
    group.push_back(p.value());
  }
  auto options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(t.lr).betas({t.beta1, t.beta2}).eps(t.adam_eps).weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, options(t.weight_decay));
  groups.emplace_back(no_decay, options(0.0));
  std::vector<double> scale = {1.0, 1.0};
  if (!new_parameters.empty()) {
    const double ratio = t.new_lr > 0 && t.lr > 0 ? t.new_lr / t.lr : 1.0;
    groups.emplace_back(new_decay, options(t.weight_decay));
    groups.emplace_back(new_no_decay, options(0.0));
    scale.insert(scale.end(), {ratio, ratio});
  }
  const auto device = model.parameters().empty() ? c10::Device(c10::kCPU) : model.parameters().front().device();
  std::unique_ptr<ScheduledAdamW> optimizer;
  if (resolve_adamw_kernel(t.adamw_kernel, device) == "fused")
    optimizer = std::make_unique<FusedAdamW>(groups, torch::optim::AdamWOptions(t.lr));
  else
    optimizer = std::make_unique<MultiTensorAdamW>(groups, torch::optim::AdamWOptions(t.lr));
  optimizer->lr_scale = scale;
  return optimizer;
}

namespace {

// The state LibTorch's AdamW keeps for `p` (created empty on the first step), under the key it uses, so
// checkpoints of every AdamW here load into the others.
torch::optim::AdamWParamState& adamw_state(torch::optim::Optimizer& optimizer, const at::Tensor& p) {
  auto& slot = optimizer.state()[p.unsafeGetTensorImpl()];
  if (!slot) {
    auto fresh = std::make_unique<torch::optim::AdamWParamState>();
    fresh->step(0);
    fresh->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
    fresh->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
    slot = std::move(fresh);
  }
  return static_cast<torch::optim::AdamWParamState&>(*slot);
}

// What one AdamW step of a group works on: the parameters that have a gradient, with their state's step
// count already advanced.
struct GroupStep {
  torch::optim::AdamWOptions* options;
  std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs;
  std::vector<int64_t> steps;  // the new step count of each
};

GroupStep begin_group_step(torch::optim::Optimizer& optimizer, torch::optim::OptimizerParamGroup& group,
                           const char* who) {
  GroupStep g{&static_cast<torch::optim::AdamWOptions&>(group.options()), {}, {}, {}, {}, {}};
  TORCH_CHECK(!g.options->amsgrad(), who, ": amsgrad is not supported");
  for (auto& p : group.params()) {
    if (!p.grad().defined()) continue;
    TORCH_CHECK(!p.grad().is_sparse(), who, ": sparse gradients are not supported");
    auto& st = adamw_state(optimizer, p);
    st.step(st.step() + 1);
    g.params.push_back(p);
    g.grads.push_back(p.grad());
    g.exp_avgs.push_back(st.exp_avg());
    g.exp_avg_sqs.push_back(st.exp_avg_sq());
    g.steps.push_back(st.step());
  }
  return g;
}

at::Tensor evaluate_closure(const torch::optim::Optimizer::LossClosure& closure) {
  if (!closure) return {};
  at::AutoGradMode enable_grad(true);
  return closure();
}

}  // namespace

at::Tensor FusedAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  const at::Tensor loss = evaluate_closure(closure);
  for (auto& group : param_groups()) {
    GroupStep g = begin_group_step(*this, group, "FusedAdamW");
    if (g.params.empty()) continue;
    std::vector<at::Tensor> steps;
    for (size_t i = 0; i < g.params.size(); ++i) {
      auto& mirror = device_steps_[g.params[i].unsafeGetTensorImpl()];
      if (mirror.count != g.steps[i] - 1)  // first step, or state loaded from a checkpoint
        mirror.value = at::full({}, double(g.steps[i] - 1), g.params[i].options().dtype(at::kFloat));
      mirror.count = g.steps[i];
      steps.push_back(mirror.value);
    }
    at::_foreach_add_(steps, 1);
    const auto [beta1, beta2] = g.options->betas();
    at::_fused_adamw_(g.params, g.grads, g.exp_avgs, g.exp_avg_sqs, {}, steps, g.options->lr(), beta1, beta2,
                      g.options->weight_decay(), g.options->eps(), /*amsgrad=*/false, /*maximize=*/false);
  }
  return loss;
}

at::Tensor MultiTensorAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  const at::Tensor loss = evaluate_closure(closure);
  for (auto& group : param_groups()) {
    GroupStep g = begin_group_step(*this, group, "MultiTensorAdamW");
    if (g.params.empty()) continue;
    const auto& options = *g.options;
    const auto [beta1, beta2] = options.betas();
    std::vector<at::Scalar> bias_root2, neg_step_size;
    for (int64_t step : g.steps) {
      bias_root2.emplace_back(std::sqrt(1 - std::pow(beta2, step)));
      neg_step_size.emplace_back(-options.lr() / (1 - std::pow(beta1, step)));
    }
    if (options.weight_decay() != 0) at::_foreach_mul_(g.params, 1 - options.lr() * options.weight_decay());
    at::_foreach_mul_(g.exp_avgs, beta1);
    at::_foreach_add_(g.exp_avgs, g.grads, 1 - beta1);
    at::_foreach_mul_(g.exp_avg_sqs, beta2);
    at::_foreach_addcmul_(g.exp_avg_sqs, g.grads, g.grads, 1 - beta2);
    auto denom = at::_foreach_sqrt(g.exp_avg_sqs);
    at::_foreach_div_(denom, bias_root2);
    at::_foreach_add_(denom, options.eps());
    at::_foreach_addcdiv_(g.params, g.exp_avgs, denom, neg_step_size);
  }
  return loss;
}

double lr_at(const TrainConfig& t, int64_t step) {
  if (t.warmup_steps > 0 && step < t.warmup_steps) return t.lr * double(step + 1) / double(t.warmup_steps);
  const int64_t decay_steps = std::max<int64_t>(1, t.steps - t.warmup_steps);
  const double progress = std::min(1.0, double(step - t.warmup_steps) / double(decay_steps));
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
  return t.lr * (t.min_lr_ratio + (1.0 - t.min_lr_ratio) * cosine);
}

void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  const auto* scheduled = dynamic_cast<const ScheduledAdamW*>(&optimizer);
  auto& groups = optimizer.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    const double scale = scheduled && i < scheduled->lr_scale.size() ? scheduled->lr_scale[i] : 1.0;
    static_cast<torch::optim::AdamWOptions&>(groups[i].options()).lr(lr * scale);
  }
}

void clear_gradients(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params()) p.mutable_grad() = at::Tensor();
}

}  // namespace oasis
