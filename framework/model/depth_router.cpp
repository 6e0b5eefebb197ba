#include "framework/model/depth_router.h"

namespace oasis {

DepthSources::DepthSources(const at::Tensor& embedding, double norm_eps, bool track_null)
    : eps_(norm_eps), track_null_(track_null) {
  values = embedding.unsqueeze(1);
  inv_rms = rms_inverse(embedding).unsqueeze(1);
  if (track_null_) nulls = torch::zeros({embedding.size(0), 1}, embedding.options());
}

at::Tensor DepthSources::rms_inverse(const at::Tensor& x) const { return torch::rsqrt(x.pow(2).mean(-1) + eps_); }

void DepthSources::add_to_partial(const at::Tensor& update) {
  partial = partial.defined() ? partial + update : update;
}

void DepthSources::add_partial_null(const at::Tensor& nu) {
  partial_null = partial_null.defined() ? partial_null + nu : nu;
  partial_null_count += 1;
}

at::Tensor DepthSources::partial_null_mean() const {
  return partial_null_count ? partial_null / double(partial_null_count) : torch::zeros_like(partial.select(-1, 0));
}

void DepthSources::commit_partial() {
  values = torch::cat({values, partial.unsqueeze(1)}, 1);
  inv_rms = torch::cat({inv_rms, rms_inverse(partial).unsqueeze(1)}, 1);
  if (track_null_) nulls = torch::cat({nulls, partial_null_mean().unsqueeze(1)}, 1);
  partial = at::Tensor();
  partial_null = at::Tensor();
  partial_null_count = 0;
}

DepthRouterImpl::DepthRouterImpl(int64_t d_model, double norm_eps, bool mixes, bool null_gate,
                                 bool null_aware_sources, double gate_bias_init) {
  if (mixes) {
    query = register_parameter("query", torch::zeros({d_model}));
    key_norm = register_module("key_norm", RMSNorm(d_model, norm_eps));
  }
  if (null_gate) {  // the first site has no null evidence before it: only the bias c
    if (mixes) null_scale = register_parameter("null_scale", torch::zeros({1}));
    null_bias = register_parameter("null_bias", torch::full({1}, gate_bias_init));
  }
  // softplus(-6) = 0.0025: the penalty starts near zero.
  if (null_aware_sources && mixes) null_source_penalty = register_parameter("null_source_penalty", torch::full({1}, -6.0));
}

Routed DepthRouterImpl::forward(const DepthSources& s, const at::Tensor& signal, at::IntArrayRef token_shape,
                                const Taps& taps) {
  Routed r;
  at::Tensor lse;
  if (!query.defined()) {  // a single source (the embedding): h is that source
    r.h = s.values.select(1, 0);
    r.weights = torch::ones({r.h.size(0), 1}, r.h.options());
  } else {
    const auto u = key_norm->weight * query;  // RMSNorm_g(v) . w = (v . (g * w)) / rms(v)
    auto logits = torch::matmul(s.values, u) * s.inv_rms;  // [N, S]
    auto nulls = s.nulls;
    if (s.partial.defined()) {
      const auto& p = s.partial;
      logits = torch::cat({logits, (torch::matmul(p, u) * s.rms_inverse(p)).unsqueeze(1)}, 1);
      if (nulls.defined()) nulls = torch::cat({nulls, s.partial_null_mean().unsqueeze(1)}, 1);
    }
    if (null_source_penalty.defined()) logits = logits - torch::softplus(null_source_penalty) * nulls;
    r.weights = torch::softmax(logits, 1);
    const int64_t done = s.values.size(1);
    r.h = (r.weights.slice(1, 0, done).unsqueeze(-1) * s.values).sum(1);  // [N, d]
    if (s.partial.defined()) r.h = r.h + r.weights.select(1, done).unsqueeze(-1) * s.partial;
    if (null_bias.defined()) lse = torch::logsumexp(logits, 1);
  }
  if (taps.on()) {
    std::vector<int64_t> shape = {r.weights.size(1), token_shape[0], token_shape[1]};
    taps.emit("weights", r.weights.t().reshape(shape));
  }
  if (null_bias.defined()) {
    // pi_null = sigmoid(a n + c - LSE_i z_i); at the first site there is no signal and LSE of one zero logit is 0.
    auto null_logit = null_scale.defined() ? null_scale * signal + null_bias - lse : null_bias.expand({r.h.size(0)});
    r.keep = 1.0 - torch::sigmoid(null_logit);
    if (taps.on()) taps.emit("keep", r.keep.reshape(token_shape));
  }
  return r;
}

}  // namespace oasis
