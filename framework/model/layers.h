// Building blocks of the pre-norm decoder: RMSNorm, rotary position embedding, causal self-attention
// written out (scores -> normalizer -> weighted sum -> optional gate -> W_O, so maps stay observable; with
// no taps attached, softmax (without LSE) and softmax1 (with LSE and null mass if wanted) may run fused
// instead, kernels/fused_attention.h),
// and the SwiGLU MLP.
#pragma once
#include <memory>
#include <string>

#include <torch/torch.h>

#include "framework/model/gates.h"
#include "framework/model/normalizers.h"
#include "framework/kernels/rms_norm.h"
#include "framework/kernels/rotary.h"
#include "framework/model/taps.h"

namespace oasis {

// x W^T with x and W cast to `dtype` (no-ops in fp32). In bf16 the fp32 weight is the master copy: the cast
// is part of the graph, so its gradient arrives in fp32.
at::Tensor project(const torch::nn::Linear& linear, const at::Tensor& x, c10::ScalarType dtype);

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  double eps() const { return eps_; }
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

// One attention layer's part of incremental decoding: where the new tokens sit, which keys each may see,
// and the layer's cached keys and values, which the call extends.
struct AttentionStep {
  const at::Tensor* positions;  // [B, T] rotary positions of the new tokens
  const at::Tensor* blocked;    // [B, 1, T, S] true where a query may not see a key (future or padding)
  at::Tensor* keys;             // [B, H_kv, S - T, D] before the call, [B, H_kv, S, D] after (undefined when empty):
  at::Tensor* values;           // the key/value heads only, not their copies per query head
};

struct AttentionResult {
  at::Tensor out;        // [B, T, d]
  at::Tensor lse;        // [B, H, T] log-sum-exp of each query's real scores, or undefined
  at::Tensor null_mass;  // [B, H, T] or undefined
};

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  // n_kv_heads key/value heads, each shared by n_heads / n_kv_heads query heads (grouped-query attention:
  // query head h uses key/value head h / group, as Hugging Face's Llama does); wqkv's rows are the query heads,
  // then the key heads, then the value heads.
  CausalSelfAttentionImpl(int64_t d_model, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, int64_t max_seq_len,
                          double rope_theta,
                          std::shared_ptr<ScoreNormalizer> normalizer, std::shared_ptr<AttentionGate> gate);
  // x: the normalized block input [B, T, d]. Taps: probs, lse, null_mass, gate, heads (the concatenated
  // heads after the gate: the input of W_O), out (after W_O). The log-sum-exp is
  // computed when `want_lse` or taps are on (or the normalizer needs it anyway).
  // `step`: decode incrementally against cached keys and values instead of attending within x.
  // The output has x's dtype (the residual stream's); projections and the two attention matmuls run in
  // `compute_dtype`, the normalizer in fp32.
  AttentionResult forward(const torch::Tensor& x, const Taps& taps = {}, bool want_lse = false,
                          const AttentionStep* step = nullptr);
  torch::nn::Linear wqkv{nullptr}, wo{nullptr};
  std::shared_ptr<ScoreNormalizer> normalizer;
  std::shared_ptr<AttentionGate> gate;  // may be null
  c10::ScalarType compute_dtype = at::kFloat;
  bool use_fused_attention = false;  // may run fused when no taps are attached (ComputeSettings)

 private:
  int64_t n_heads_, n_kv_heads_, head_dim_;
  Rotary rotary_;
};
TORCH_MODULE(CausalSelfAttention);

class SwiGLUImpl : public torch::nn::Module {
 public:
  SwiGLUImpl(int64_t d_model, int64_t d_ff);
  // Taps: hidden (silu(x W_gate) * x W_up, the input of W_down), out. Matmuls in `compute_dtype`; the
  // output has x's dtype.
  torch::Tensor forward(const torch::Tensor& x, const Taps& taps = {});
  torch::nn::Linear w_gate{nullptr}, w_up{nullptr}, w_down{nullptr};
  c10::ScalarType compute_dtype = at::kFloat;
};
TORCH_MODULE(SwiGLU);

}  // namespace oasis
