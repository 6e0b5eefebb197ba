#include "framework/model/layers.h"

#include <cmath>

#include "framework/kernels/fused_attention.h"

namespace oasis {
namespace F = torch::nn::functional;

at::Tensor project(const torch::nn::Linear& linear, const at::Tensor& x, c10::ScalarType dtype) {
  return F::linear(x.to(dtype), linear->weight.to(dtype));
}

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
  auto qkv = project(wqkv, x, compute_dtype).view({B, T, 3, n_heads_, head_dim_}).permute({2, 0, 3, 1, 4});
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
  at::Tensor heads;  // [B, H, T, D]
  Normalized n;
  const FusedForm form = normalizer->fused_form();
  const bool fusable = form == FusedForm::softmax1 || (form == FusedForm::softmax && !want_lse);
  if (use_fused_attention && fusable && !taps.attached()) {
    FusedAttention f = fused_attention(q, k, v, mask, form, want_lse);
    heads = f.out;
    n.lse = f.lse;
    n.null_mass = f.null_mass;
  } else {
    auto scores = torch::matmul(q, k.transpose(-2, -1)).to(at::kFloat) * (1.0 / std::sqrt(double(head_dim_)));
    n = normalizer->forward(scores, mask, want_lse || taps.on());
    auto probs = taps.site("probs", n.probs);
    if (n.lse.defined()) taps.emit("lse", n.lse);
    if (n.null_mass.defined()) taps.emit("null_mass", n.null_mass);
    heads = torch::matmul(probs.to(compute_dtype), v);
  }
  if (gate) heads = gate->forward(heads, x, taps);
  auto concatenated = taps.site("heads", heads.transpose(1, 2).reshape({B, T, C}));
  auto out = project(wo, concatenated, compute_dtype).to(x.scalar_type());
  taps.emit("out", out);
  return {out, n.lse, n.null_mass};
}

SwiGLUImpl::SwiGLUImpl(int64_t d_model, int64_t d_ff) {
  w_gate = register_module("w_gate", torch::nn::Linear(torch::nn::LinearOptions(d_model, d_ff).bias(false)));
  w_up = register_module("w_up", torch::nn::Linear(torch::nn::LinearOptions(d_model, d_ff).bias(false)));
  w_down = register_module("w_down", torch::nn::Linear(torch::nn::LinearOptions(d_ff, d_model).bias(false)));
}

torch::Tensor SwiGLUImpl::forward(const torch::Tensor& x, const Taps& taps) {
  auto hidden = F::silu(project(w_gate, x, compute_dtype)) * project(w_up, x, compute_dtype);
  auto out = project(w_down, taps.site("hidden", hidden), compute_dtype).to(x.scalar_type());
  taps.emit("out", out);
  return out;
}

}  // namespace oasis
