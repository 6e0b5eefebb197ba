#include "framework/quant/fake_quant.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "framework/core/errors.h"
#include "framework/core/text.h"

namespace oasis {

namespace {
template <class Enum>
Enum named(const std::vector<std::string>& names, const std::string& name, const char* what) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return Enum(i);
  throw ConfigError(fmt::format("unknown {} '{}'; valid: {}", what, name, join(names, ", ")));
}
}  // namespace

// In the enums' order.
const std::vector<std::string>& granularity_names() {
  static const std::vector<std::string> names = {"tensor", "channel", "token"};
  return names;
}
const std::vector<std::string>& range_estimator_names() {
  static const std::vector<std::string> names = {"dynamic", "minmax", "running_minmax", "mse"};
  return names;
}
Granularity granularity_named(const std::string& name) {
  return named<Granularity>(granularity_names(), name, "granularity");
}
RangeEstimator range_estimator_named(const std::string& name) {
  return named<RangeEstimator>(range_estimator_names(), name, "range estimator");
}

int64_t QuantSpec::qmin() const { return symmetric ? -(int64_t(1) << (bits - 1)) : 0; }
int64_t QuantSpec::qmax() const { return symmetric ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - 1; }

QuantParams quant_params(const at::Tensor& min_in, const at::Tensor& max_in, const QuantSpec& spec) {
  auto min = torch::clamp_max(min_in, 0.0) * spec.clip_ratio;  // the range always holds 0 (exact zeros stay zero)
  auto max = torch::clamp_min(max_in, 0.0) * spec.clip_ratio;
  QuantParams p;
  if (spec.symmetric) {
    p.scale = torch::maximum(-min, max) / double(spec.qmax());
    p.scale = torch::clamp_min(p.scale, 1e-12);
    p.zero_point = torch::zeros_like(p.scale);
  } else {
    p.scale = torch::clamp_min((max - min) / double(spec.qmax()), 1e-12);
    p.zero_point = torch::round(-min / p.scale);
  }
  return p;
}

at::Tensor fake_quantize(const at::Tensor& x, const QuantParams& p, const QuantSpec& spec) {
  const auto dtype = at::promote_types(x.scalar_type(), at::kFloat);
  auto s = p.scale.to(dtype), z = p.zero_point.to(dtype);
  auto q = torch::clamp(torch::round(x.detach().to(dtype) / s) + z, double(spec.qmin()), double(spec.qmax()));
  auto dequantized = ((q - z) * s).to(x.scalar_type());
  if (!x.requires_grad()) return dequantized;
  return x + (dequantized - x).detach();  // straight-through estimator
}

std::pair<at::Tensor, at::Tensor> range_of(const at::Tensor& x, const QuantSpec& spec, int64_t channel_dim) {
  auto v = x.detach();
  if (spec.granularity == Granularity::tensor) return {v.min(), v.max()};
  std::vector<int64_t> dims;
  if (spec.granularity == Granularity::token) {
    dims = {v.dim() - 1};
  } else {  // channel: every axis but the channel axis
    const int64_t keep = channel_dim < 0 ? v.dim() + channel_dim : channel_dim;
    for (int64_t d = 0; d < v.dim(); ++d)
      if (d != keep) dims.push_back(d);
  }
  return {v.amin(dims, true), v.amax(dims, true)};
}

QuantParams mse_search(const at::Tensor& x, const QuantSpec& spec, int64_t channel_dim) {
  auto [min, max] = range_of(x, spec, channel_dim);
  QuantSpec trial = spec;
  QuantParams best;
  at::Tensor best_error;
  for (int step = 0; step <= 50; ++step) {
    trial.clip_ratio = spec.clip_ratio * (1.0 - 0.01 * step);
    const QuantParams p = quant_params(min, max, trial);
    auto squared = (fake_quantize(x.detach(), p, trial) - x.detach()).pow(2);
    // The error per range group: summed over the axes the range was reduced over.
    at::Tensor error;
    if (spec.granularity == Granularity::tensor) {
      error = squared.sum();
    } else {
      std::vector<int64_t> dims;
      for (int64_t d = 0; d < x.dim(); ++d)
        if (min.size(d) == 1 && x.size(d) != 1) dims.push_back(d);
      error = dims.empty() ? squared : squared.sum(dims, true);
    }
    if (!best_error.defined()) {
      best = p;
      best_error = error;
      continue;
    }
    auto better = error < best_error;
    best.scale = torch::where(better, p.scale, best.scale);
    best.zero_point = torch::where(better, p.zero_point, best.zero_point);
    best_error = torch::minimum(error, best_error);
  }
  return best;
}

FakeQuantizer::FakeQuantizer(QuantSpec spec, int64_t channel_dim) : spec_(std::move(spec)), channel_dim_(channel_dim) {}

void FakeQuantizer::observe(const at::Tensor& x) {
  if (spec_.dynamic()) return;
  auto [min, max] = range_of(x, spec_, channel_dim_);
  if (!min_.defined()) {
    min_ = min, max_ = max;
  } else if (spec_.range == RangeEstimator::running_minmax) {
    min_ = spec_.momentum * min_ + (1.0 - spec_.momentum) * min;
    max_ = spec_.momentum * max_ + (1.0 - spec_.momentum) * max;
  } else {
    min_ = torch::minimum(min_, min);
    max_ = torch::maximum(max_, max);
  }
  if (spec_.range == RangeEstimator::mse) samples_.push_back(x.detach().reshape({-1, x.size(-1)}));
}

void FakeQuantizer::freeze() {
  if (spec_.dynamic()) return;
  if (!min_.defined()) throw RuntimeError("quantizer: a static range was never calibrated (no calibration data reached it)");
  if (spec_.range == RangeEstimator::mse) {
    params_ = mse_search(samples_.size() == 1 ? samples_[0] : torch::cat(samples_, 0), spec_, channel_dim_);
    if (spec_.granularity == Granularity::channel && params_.scale.dim() > 0) {  // back to the observed tensors' rank
      params_.scale = params_.scale.view(min_.sizes());
      params_.zero_point = params_.zero_point.view(min_.sizes());
    }
    samples_.clear();
  } else {
    params_ = quant_params(min_, max_, spec_);
  }
}

at::Tensor FakeQuantizer::forward(const at::Tensor& x) const {
  if (spec_.dynamic()) {
    auto [min, max] = range_of(x, spec_, channel_dim_);
    return fake_quantize(x, quant_params(min, max, spec_), spec_);
  }
  if (!calibrated()) throw RuntimeError("quantizer: used before calibration");
  return fake_quantize(x, params_, spec_);
}

}  // namespace oasis
