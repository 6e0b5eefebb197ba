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

CausalSelfAttentionImpl::CausalSelfAttentionImpl(int64_t d_model, int64_t n_heads, int64_t n_kv_heads,
                                                 int64_t head_dim, int64_t max_seq_len, double rope_theta,
                                                 std::shared_ptr<ScoreNormalizer> normalizer_,
                                                 std::shared_ptr<AttentionGate> gate_)
    : normalizer(std::move(normalizer_)),
      gate(std::move(gate_)),
      n_heads_(n_heads),
      n_kv_heads_(n_kv_heads),
      head_dim_(head_dim),
      rotary_(head_dim, max_seq_len, rope_theta) {
  TORCH_CHECK(n_kv_heads >= 1 && n_heads % n_kv_heads == 0, "attention: ", n_kv_heads,
              " key/value heads do not divide ", n_heads, " query heads");
  const int64_t projected = (n_heads + 2 * n_kv_heads) * head_dim_;
  wqkv = register_module("wqkv", torch::nn::Linear(torch::nn::LinearOptions(d_model, projected).bias(false)));
  wo = register_module("wo", torch::nn::Linear(torch::nn::LinearOptions(n_heads * head_dim_, d_model).bias(false)));
  register_module("normalizer", normalizer);
  if (gate) register_module("gate", gate);
}

AttentionResult CausalSelfAttentionImpl::forward(const torch::Tensor& x, const Taps& taps, bool want_lse,
                                                 const AttentionStep* step) {
  const int64_t B = x.size(0), T = x.size(1);
  // [B, T, H + 2 H_kv, D] -> query, key and value heads as [B, heads, T, D] views (strided, not copied).
  auto qkv = project(wqkv, x, compute_dtype).view({B, T, n_heads_ + 2 * n_kv_heads_, head_dim_});
  auto heads_of = [&](int64_t first, int64_t count) { return qkv.narrow(2, first, count).transpose(1, 2); };
  const auto q_in = heads_of(0, n_heads_), k_in = heads_of(n_heads_, n_kv_heads_);
  at::Tensor q, k, v = heads_of(n_heads_ + n_kv_heads_, n_kv_heads_);
  ScoreMask mask;
  if (step) {
    q = rotary_.apply(q_in, *step->positions);
    k = rotary_.apply(k_in, *step->positions);
    if (step->keys->defined()) {
      k = torch::cat({*step->keys, k}, 2);
      v = torch::cat({*step->values, v}, 2);
    }
    *step->keys = k;
    *step->values = v;
    mask.blocked = *step->blocked;
  } else {
    q = rotary_.apply(q_in);
    k = rotary_.apply(k_in);
    mask.causal = true;
  }
  if (n_kv_heads_ != n_heads_) {  // each key/value head serves its group of query heads
    k = k.repeat_interleave(n_heads_ / n_kv_heads_, 1);
    v = v.repeat_interleave(n_heads_ / n_kv_heads_, 1);
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
  auto concatenated = taps.site("heads", heads.transpose(1, 2).reshape({B, T, n_heads_ * head_dim_}));
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
