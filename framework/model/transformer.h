// The decoder behind every preset: pre-norm blocks (RMSNorm, RoPE, SwiGLU, no biases, optionally tied
// embeddings) whose attention uses the configured score normalizer and gate, joined by a residual
// router:
//   standard  x += attn(norm(x)); x += mlp(norm(x)); logits = head(norm(x))
//   attnres   Block AttnRes (docs/models.md): before each of the 2L sublayers a routing site mixes the
//             embedding, the completed block sums and the current partial sum; a final routing site feeds
//             the last norm. N blocks of 2L/N sublayers; N = 2L is Full AttnRes.
// With the OASIS null signal (attnres only), each attention sublayer's null evidence e_t = mean_h(-LSE)
// (or learned per-head weights) travels to the next routing sites (immediate or depth EMA) and gates
// the sublayer updates there; variant b also tags each source with its layers' mean null mass.
#pragma once
#include <torch/torch.h>

#include "framework/core/config.h"
#include "framework/model/depth_router.h"
#include "framework/model/language_model.h"
#include "framework/model/layers.h"

namespace oasis {

// The concrete components of a model: the preset's choices with the config's overrides applied.
struct ModelComponents {
  std::string router, normalizer, gate, null_signal;
  int64_t attnres_blocks = 0;  // resolved (never 0 for attnres)
};

// SwiGLU hidden width: model.d_ff, or 8/3 * d_model rounded up to a multiple of 64.
int64_t swiglu_hidden(const ModelConfig& config);

class DecoderBlockImpl : public torch::nn::Module {
 public:
  // `index` 0: the first attention routing site only ever sees the embedding.
  DecoderBlockImpl(const ModelConfig& config, const ModelComponents& components, int64_t index);
  RMSNorm attn_norm{nullptr}, mlp_norm{nullptr};
  CausalSelfAttention attn{nullptr};
  SwiGLU mlp{nullptr};
  DepthRouter route_attn{nullptr}, route_mlp{nullptr};  // attnres only
  at::Tensor null_head_weights;                          // OASIS per-head weighting only
};
TORCH_MODULE(DecoderBlock);

class Transformer : public LanguageModel {
 public:
  Transformer(const ModelConfig& config, const ModelComponents& components, int64_t vocab_size);
  at::Tensor forward(const at::Tensor& tokens) override;
  at::Tensor decode(const at::Tensor& tokens, const at::Tensor& valid, KVCache& cache) override;
  int64_t vocab_size() const override { return vocab_size_; }
  int64_t max_seq_len() const override { return config_.max_seq_len; }
  void configure(const ComputeSettings& settings) override;
  struct Decoding;  // positions, mask and cache of an incremental step

  torch::nn::Embedding embed{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  DepthRouter final_route{nullptr};  // attnres only
  RMSNorm final_norm{nullptr};
  torch::nn::Linear lm_head{nullptr};

 private:
  // `decoding` null: attention within the input.
  at::Tensor forward_tokens(const at::Tensor& tokens, Decoding* decoding);
  at::Tensor forward_standard(const at::Tensor& x, const Taps& taps, Decoding* decoding);
  at::Tensor forward_attnres(const at::Tensor& x, const Taps& taps, Decoding* decoding);
  void initialize(const ModelConfig& config);

  ModelConfig config_;
  ModelComponents components_;
  int64_t vocab_size_;
  c10::ScalarType compute_dtype_ = at::kFloat;  // the LM head's
  // The components as the forward pass needs them, resolved once from their names.
  bool depth_routed_;        // router attnres
  bool null_gated_updates_;  // OASIS variant a or ab
  bool null_aware_sources_;  // OASIS variant b or ab
};

}  // namespace oasis
