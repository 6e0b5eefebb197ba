#include "framework/run/bench.h"

#include <algorithm>
#include <chrono>

#include <torch/torch.h>

#include "framework/core/runtime.h"
#include "framework/data/batches.h"
#include "framework/data/token_data.h"
#include "framework/model/presets.h"
#include "framework/train/optimizer.h"

namespace oasis {

nlohmann::json TrainingSpeed::to_json() const {
  return {{"parameters", parameters}, {"tokens_per_step", tokens_per_step}, {"median_step_ms", median_step_ms},
          {"tokens_per_s", tokens_per_s}};
}

TrainingSpeed measure_training_speed(const Config& c, int64_t warmup_steps, int64_t timed_steps) {
  apply_threads(c.threads);
  const auto device = resolve_device(c.device);
  TokenizedData data = prepare_data(c.data, {"train"});
  seed_everything(c.seed);
  auto model = build_model(c.model, data.tokenizer->vocab_size());
  model->to(device);
  model->train();
  auto optimizer = make_optimizer(*model, c.train);
  const WindowSampler windows(data.split("train"), c.data.seq_len, c.data.bos, data.tokenizer->end_of_text(),
                              uint64_t(c.seed));
  TrainingSpeed speed;
  for (const auto& p : model->parameters()) speed.parameters += p.numel();
  speed.tokens_per_step = c.train.batch_size * c.train.grad_accum * c.data.seq_len;
  std::vector<double> step_ms;
  int64_t sample = 0;
  for (int64_t step = 0; step < warmup_steps + timed_steps; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    optimizer->zero_grad();
    for (int64_t micro = 0; micro < c.train.grad_accum; ++micro) {
      const Batch b = windows.batch(sample, c.train.batch_size);
      sample += c.train.batch_size;
      auto logits = model->forward(b.inputs.to(device));
      auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}),
                                                       b.targets.to(device).view(-1)) /
                  double(c.train.grad_accum);
      loss.backward();
    }
    torch::nn::utils::clip_grad_norm_(model->parameters(), c.train.grad_clip > 0 ? c.train.grad_clip : 1e9);
    optimizer->step();
    if (device.is_cuda()) torch::cuda::synchronize();
    if (step >= warmup_steps)
      step_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(step_ms.begin(), step_ms.end());
  speed.median_step_ms = step_ms[step_ms.size() / 2];
  speed.tokens_per_s = double(speed.tokens_per_step) / (speed.median_step_ms / 1000.0);
  return speed;
}

}  // namespace oasis
