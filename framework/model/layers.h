// Building blocks of the pre-norm decoder: RMSNorm, rotary position embedding, causal self-attention
// written out (scores -> softmax -> weighted sum, so maps stay observable), and the SwiGLU MLP.
#pragma once
#include <torch/torch.h>

namespace oasis {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

// Rotates pairs (i, i + d/2) of each head by position-dependent angles (the "rotate half" layout).
class Rotary {
 public:
  Rotary(int64_t head_dim, int64_t max_seq_len, double theta);
  torch::Tensor apply(const torch::Tensor& x) const;  // x: [B, H, T, D]

 private:
  torch::Tensor cos_, sin_;  // [max_seq_len, D/2]
};

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  CausalSelfAttentionImpl(int64_t d_model, int64_t n_heads, int64_t max_seq_len, double rope_theta);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, d] -> [B, T, d]
  torch::nn::Linear wqkv{nullptr}, wo{nullptr};

 private:
  int64_t n_heads_, head_dim_;
  Rotary rotary_;
};
TORCH_MODULE(CausalSelfAttention);

class SwiGLUImpl : public torch::nn::Module {
 public:
  SwiGLUImpl(int64_t d_model, int64_t d_ff);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear w_gate{nullptr}, w_up{nullptr}, w_down{nullptr};
};
TORCH_MODULE(SwiGLU);

}  // namespace oasis
