// The standard model: a pre-norm decoder (RMSNorm, RoPE, SwiGLU, no biases, optionally tied embeddings)
// with a plain residual stream: x += attn(norm(x)); x += mlp(norm(x)); logits = head(norm(x)).
#pragma once
#include <torch/torch.h>

#include "framework/core/config.h"
#include "framework/model/language_model.h"
#include "framework/model/layers.h"

namespace oasis {

// SwiGLU hidden width: model.d_ff, or 8/3 * d_model rounded up to a multiple of 64.
int64_t swiglu_hidden(const ModelConfig& config);

class DecoderBlockImpl : public torch::nn::Module {
 public:
  explicit DecoderBlockImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x);
  RMSNorm attn_norm{nullptr}, mlp_norm{nullptr};
  CausalSelfAttention attn{nullptr};
  SwiGLU mlp{nullptr};
};
TORCH_MODULE(DecoderBlock);

class Transformer : public LanguageModel {
 public:
  Transformer(const ModelConfig& config, int64_t vocab_size);
  at::Tensor forward(const at::Tensor& tokens) override;
  int64_t vocab_size() const override { return vocab_size_; }

  torch::nn::Embedding embed{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  RMSNorm final_norm{nullptr};
  torch::nn::Linear lm_head{nullptr};

 private:
  void initialize(const ModelConfig& config);
  int64_t vocab_size_;
};

}  // namespace oasis
