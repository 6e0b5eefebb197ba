#include "framework/model/layers.h"

#include <cmath>

namespace oasis {
namespace F = torch::nn::functional;

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  return rms_norm(x, weight, eps_);
}

CausalSelfAttentionImpl::CausalSelfAttentionImpl(int64_t d_model, int64_t n_heads, int64_t max_seq_len,
                                                 double rope_theta, std::shared_ptr<ScoreNormalizer> normalizer_,
                                                 std::shared_ptr<AttentionGate> gate_)
    : normalizer(std::move(normalizer_)),
      gate(std::move(gate_)),
      n_heads_(n_heads),
      head_dim_(d_model / n_heads),
      rotary_(d_model / n_heads, max_seq_len, rope_theta) {
  wqkv = register_module("wqkv", torch::nn::Linear(torch::nn::LinearOptions(d_model, 3 * d_model).bias(false)));
  wo = register_module("wo", torch::nn::Linear(torch::nn::LinearOptions(d_model, d_model).bias(false)));
  register_module("normalizer", normalizer);
  if (gate) register_module("gate", gate);
}

AttentionResult CausalSelfAttentionImpl::forward(const torch::Tensor& x, const Taps& taps, bool want_lse,
                                                 const AttentionStep* step) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  auto qkv = wqkv->forward(x).view({B, T, 3, n_heads_, head_dim_}).permute({2, 0, 3, 1, 4});
  at::Tensor q, k, v = qkv[2];  // [B, H, T, D]
  ScoreMask mask;
  if (step) {
    q = rotary_.apply(qkv[0], *step->positions);
    k = rotary_.apply(qkv[1], *step->positions);
    if (step->keys->defined()) {
      k = torch::cat({*step->keys, k}, 2);
      v = torch::cat({*step->values, v}, 2);
    }
    *step->keys = k;
    *step->values = v;
    mask.blocked = *step->blocked;
  } else {
    q = rotary_.apply(qkv[0]);
    k = rotary_.apply(qkv[1]);
    mask.causal = true;
  }
  auto scores = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(double(head_dim_)));
  Normalized n = normalizer->forward(scores, mask, want_lse || taps.on());
  auto probs = taps.site("probs", n.probs);
  if (n.lse.defined()) taps.emit("lse", n.lse);
  if (n.null_mass.defined()) taps.emit("null_mass", n.null_mass);
  auto heads = torch::matmul(probs, v);  // [B, H, T, D]
  if (gate) heads = gate->forward(heads, x, taps);
  auto out = wo->forward(taps.site("heads", heads.transpose(1, 2).reshape({B, T, C})));
  taps.emit("out", out);
  return {out, n.lse, n.null_mass};
}

SwiGLUImpl::SwiGLUImpl(int64_t d_model, int64_t d_ff) {
  w_gate = register_module("w_gate", torch::nn::Linear(torch::nn::LinearOptions(d_model, d_ff).bias(false)));
  w_up = register_module("w_up", torch::nn::Linear(torch::nn::LinearOptions(d_model, d_ff).bias(false)));
  w_down = register_module("w_down", torch::nn::Linear(torch::nn::LinearOptions(d_ff, d_model).bias(false)));
}

torch::Tensor SwiGLUImpl::forward(const torch::Tensor& x, const Taps& taps) {
  auto out = w_down->forward(taps.site("hidden", F::silu(w_gate->forward(x)) * w_up->forward(x)));
  taps.emit("out", out);
  return out;
}

}  // namespace oasis
