// The decoder behind every preset: pre-norm blocks (RMSNorm, RoPE, SwiGLU, no biases, optionally tied
// embeddings) whose attention uses the configured score normalizer and gate, joined by the configured
// residual router (model/routers.h: standard, or AttnRes with the optional OASIS null signal);
// logits = head(norm(router output)).
#pragma once
#include <torch/torch.h>

#include "framework/core/config.h"
#include "framework/model/language_model.h"
#include "framework/model/layers.h"
#include "framework/model/routers.h"

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
  // The router's parameters of this layer (route_attn, route_mlp, ...) are registered on it by the router.
  DecoderBlockImpl(const ModelConfig& config, const ModelComponents& components);
  RMSNorm attn_norm{nullptr}, mlp_norm{nullptr};
  CausalSelfAttention attn{nullptr};
  SwiGLU mlp{nullptr};
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
  RMSNorm final_norm{nullptr};
  torch::nn::Linear lm_head{nullptr};

 private:
  // `decoding` null: attention within the input.
  at::Tensor forward_tokens(const at::Tensor& tokens, Decoding* decoding);
  void initialize(const ModelConfig& config);

  ModelConfig config_;
  int64_t vocab_size_;
  c10::ScalarType compute_dtype_ = at::kFloat;  // the LM head's
  std::unique_ptr<ResidualRouter> router_;
};

}  // namespace oasis
