#include "framework/run/bench.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include <torch/torch.h>

#include "framework/core/log.h"
#include "framework/core/runtime.h"
#include "framework/data/batches.h"
#include "framework/data/token_data.h"
#include "framework/dist/gradient_sync.h"
#include "framework/dist/process_group.h"
#include "framework/eval/generate.h"
#include "framework/model/presets.h"
#include "framework/quant/transform.h"
#include "framework/train/optimizer.h"
#include "framework/train/trainer.h"

namespace oasis {

struct SpeedTrial::State {
  Config config;
  c10::Device device = c10::kCPU;
  ComputeSettings compute;
  TokenizedData data;
  std::shared_ptr<LanguageModel> model;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::unique_ptr<WindowSampler> windows;
  std::unique_ptr<GradientSync> gradients;  // on several ranks (oasis bench --ranks)
  int64_t sample = 0;
};

SpeedTrial::SpeedTrial(const Config& c) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.config = c;
  apply_threads(c.threads);
  s.device = distributed().place(resolve_device(c.device));
  s.data = prepare_data(c.data, {"train"});
  seed_everything(c.seed);
  s.model = build_model(c.model_to_build(), s.data.tokenizer->vocab_size());
  s.model->to(s.device);
  s.compute = compute_settings(c, s.device);
  s.model->configure(s.compute);
  s.model->train();
  s.optimizer = make_optimizer(*s.model, c.train);
  s.windows = std::make_unique<WindowSampler>(s.data.split("train"), c.data.seq_len, c.data.bos,
                                              s.data.tokenizer->end_of_text(), uint64_t(c.seed), s.data.corpus.window_period);
  s.gradients = std::make_unique<GradientSync>(distributed(), s.model->named_parameters(), c.dist.bucket_mb);
}

SpeedTrial::~SpeedTrial() = default;

double SpeedTrial::step_ms() {
  State& s = *state_;
  const TrainConfig& t = s.config.train;
  const RankShare share = share_of_step("train", t, distributed());
  const auto t0 = std::chrono::steady_clock::now();
  clear_gradients(*s.optimizer);
  for (int64_t micro = 0; micro < share.per_rank; ++micro) {  // as the trainer deals them out
    const Batch b = s.windows->batch(share.first_window(s.sample, micro), t.batch_size);
    auto loss = lm_loss(*s.model, b, s.device) / double(share.per_rank);
    if (micro == share.per_rank - 1) s.gradients->expect_sync();
    loss.backward();
  }
  s.sample += t.batch_size * t.grad_accum;
  torch::nn::utils::clip_grad_norm_(s.model->parameters(), t.grad_clip > 0 ? t.grad_clip : 1e9);
  s.optimizer->step();
  if (s.device.is_cuda()) torch::cuda::synchronize();
  return 1000.0 * seconds_since(t0);
}

double SpeedTrial::eval_ms(const QuantScheme& scheme) {
  State& s = *state_;
  torch::NoGradGuard no_grad;
  s.model->eval();
  const Batch b = s.windows->batch(s.sample, s.config.train.batch_size);
  s.sample += s.config.train.batch_size;
  const auto inputs = b.inputs.to(s.device);
  std::optional<QuantTransform> quantized;
  if (!scheme.is_float()) {
    quantized.emplace(*s.model, scheme);
    quantized->calibrate(b.inputs, s.config.train.batch_size);
  }
  const auto t0 = std::chrono::steady_clock::now();
  s.model->forward(inputs);
  if (s.device.is_cuda()) torch::cuda::synchronize();
  const double ms = 1000.0 * seconds_since(t0);
  quantized.reset();
  s.model->train();
  return ms;
}

double SpeedTrial::decode_tokens_per_s(int64_t new_tokens, int64_t batch, bool use_cache) {
  State& s = *state_;
  constexpr int64_t kPromptTokens = 32;
  const Batch b = s.windows->batch(s.sample, batch);
  s.sample += batch;
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t r = 0; r < batch; ++r) {
    auto row = b.inputs[r].slice(0, 0, std::min(kPromptTokens, b.inputs.size(1))).to(torch::kInt).contiguous();
    prompts.emplace_back(row.data_ptr<int32_t>(), row.data_ptr<int32_t>() + row.numel());
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto completions = generate_greedy(*s.model, *s.data.tokenizer, prompts, {new_tokens, {}, batch, use_cache});
  if (s.device.is_cuda()) torch::cuda::synchronize();
  const double seconds = seconds_since(t0);
  int64_t generated = 0;
  for (const auto& c : completions) generated += int64_t(c.tokens.size());
  s.model->train();
  return double(generated) / seconds;
}

int64_t SpeedTrial::parameters() const {
  int64_t n = 0;
  for (const auto& p : state_->model->parameters()) n += p.numel();
  return n;
}

int64_t SpeedTrial::tokens_per_step() const {
  const TrainConfig& t = state_->config.train;
  return t.batch_size * t.grad_accum * state_->config.data.seq_len;
}

double SpeedTrial::flops_per_token() const {
  const Config& c = state_->config;
  double matmul_weights = 0;
  for (const auto& p : state_->model->named_parameters()) {
    const bool embedding = p.key() == "embed.weight";
    if (p.value().dim() == 2 && (!embedding || c.model.tie_embeddings)) matmul_weights += double(p.value().numel());
  }
  return 6.0 * matmul_weights + 12.0 * double(c.model.n_layers) * double(c.model.d_model) * double(c.data.seq_len);
}

std::string SpeedTrial::device_name() const { return state_->device.str(); }
const ComputeSettings& SpeedTrial::compute() const { return state_->compute; }

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

}  // namespace oasis
