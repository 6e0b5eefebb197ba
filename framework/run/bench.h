// Throughput measurement for `oasis bench`: one trial per model runs real optimizer steps (and
// evaluation passes, plain or fake-quantized) on real training windows and times each; trials of several presets can be stepped in turn, so slow
// phases of a noisy machine hit every preset alike.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/config.h"
#include "framework/model/language_model.h"
#include "framework/quant/scheme.h"

namespace oasis {

class SpeedTrial {
 public:
  explicit SpeedTrial(const Config& config);
  ~SpeedTrial();
  double step_ms();  // one optimizer step, wall time
  // One evaluation forward pass (no gradients) of a training batch under `scheme`, wall time; static
  // schemes are calibrated on that batch first, outside the timing.
  double eval_ms(const QuantScheme& scheme);
  // Greedy decoding of `new_tokens` tokens after a 32-token prompt, `batch` sequences at once, with or
  // without the KV cache; returns generated tokens per second (no stop strings; the end-of-text token
  // may end a row early and is then not counted).
  double decode_tokens_per_s(int64_t new_tokens, int64_t batch, bool use_cache);
  int64_t parameters() const;
  int64_t tokens_per_step() const;
  // Model FLOPs of one training token (forward + backward), the convention of MFU (PaLM, appendix B):
  // 6 per weight of every matrix multiplied with the activations (the LM head included, the embedding
  // lookup not) + 12 L d T for the attention scores and weighted sums (T the sequence length, counted over
  // the whole square). Norms, softmax, gates' elementwise work and AttnRes routing are not counted, so every
  // preset is credited with the same useful work and its extra cost shows as lower MFU.
  double flops_per_token() const;
  std::string device_name() const;
  const ComputeSettings& compute() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

double median(std::vector<double> values);

}  // namespace oasis
