#include "framework/model/depth_router.h"

#include "framework/kernels/depth_mix.h"

namespace oasis {

DepthSources::DepthSources(const at::Tensor& embedding, bool track_null) : track_null_(track_null) {
  values = {embedding};
  if (track_null_) nulls = {torch::zeros({embedding.size(0)}, embedding.options())};
}

void DepthSources::add_to_partial(const at::Tensor& update, const at::Tensor& scale) {
  if (!scale.defined())
    partial = partial.defined() ? partial + update : update;
  else
    partial = partial.defined() ? torch::addcmul(partial, update, scale.unsqueeze(-1)) : update * scale.unsqueeze(-1);
}

void DepthSources::add_partial_null(const at::Tensor& nu) {
  partial_null = partial_null.defined() ? partial_null + nu : nu;
  partial_null_count += 1;
}

at::Tensor DepthSources::partial_null_mean() const {
  return partial_null_count ? partial_null / double(partial_null_count) : torch::zeros_like(partial.select(-1, 0));
}

void DepthSources::commit_partial(const at::Tensor& block) {
  values.push_back(block);
  if (track_null_) nulls.push_back(partial_null_mean());
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
    r.h = s.values[0];
    r.weights = torch::ones({r.h.size(0), 1}, r.h.options());
  } else {
    std::vector<at::Tensor> values = s.values, nulls = s.nulls;
    if (s.partial.defined()) {
      values.push_back(s.partial);
      if (!nulls.empty()) nulls.push_back(s.partial_null_mean());
    }
    at::Tensor offset;
    if (null_source_penalty.defined()) offset = -torch::softplus(null_source_penalty) * torch::stack(nulls, 1);
    // RMSNorm_g(v) . w = (v . (g * w)) / rms(v)
    DepthMix mix = depth_mix(values, key_norm->weight * query, offset, key_norm->eps());
    r.h = mix.h;
    r.weights = mix.weights;
    lse = mix.lse;
  }
  if (taps.on()) {
    std::vector<int64_t> shape = {r.weights.size(1), token_shape[0], token_shape[1]};
    taps.emit("weights", r.weights.t().reshape(shape));
  }
  if (null_bias.defined()) {
    // pi_null = sigmoid(a n + c - LSE_i z_i); at the first site there is no signal and LSE of one zero logit is 0.
    // keep = 1 - pi_null = sigmoid(LSE - a n - c): three small ops (each costs more in dispatch than arithmetic).
    r.keep = null_scale.defined() ? torch::sigmoid(lse - torch::addcmul(null_bias, null_scale, signal))
                                  : torch::sigmoid(-null_bias).expand({r.h.size(0)});
    if (taps.on()) taps.emit("keep", r.keep.reshape(token_shape));
  }
  return r;
}

}  // namespace oasis
