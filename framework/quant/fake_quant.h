// Uniform fake quantization (docs/quantization.md): quantize, then dequantize in float, with a straight-through
// gradient (d x^/d x = 1).
//   symmetric:  s = clip * max|x| / (2^{b-1} - 1),  q = clamp(round(x / s), -2^{b-1}, 2^{b-1} - 1),  x^ = s q
//   asymmetric: s = clip * (max - min) / (2^b - 1) with min <= 0 <= max,  z = round(-clip * min / s),
//               q = clamp(round(x / s) + z, 0, 2^b - 1),  x^ = s (q - z)
// One (s, z) per tensor, per channel (weights: per output row; activations: per last-dim channel) or
// per token (per row over the last dim). Ranges are static (from calibration: min-max, running min-max
// with momentum, or an MSE grid search over clip ratios) or dynamic (from the tensor itself).
#pragma once
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace oasis {

// One range per tensor, per channel or per token.
enum class Granularity { tensor, channel, token };
// Where the range comes from: the tensor itself at run time, or calibration (min-max, running min-max, MSE).
enum class RangeEstimator { dynamic, minmax, running_minmax, mse };

// The names config files use, and their resolution (a ConfigError listing the names for any other).
const std::vector<std::string>& granularity_names();       // tensor, channel, token
const std::vector<std::string>& range_estimator_names();   // dynamic, minmax, running_minmax, mse
Granularity granularity_named(const std::string& name);
RangeEstimator range_estimator_named(const std::string& name);

struct QuantSpec {
  int64_t bits = 8;
  bool symmetric = true;
  Granularity granularity = Granularity::tensor;
  RangeEstimator range = RangeEstimator::minmax;
  double momentum = 0.9;    // running_minmax: range = momentum * range + (1 - momentum) * batch range
  double clip_ratio = 1.0;  // the range is scaled by this before the scale is computed

  bool dynamic() const { return range == RangeEstimator::dynamic; }
  int64_t qmin() const;
  int64_t qmax() const;
};

// Scale and zero point for the given range (min/max broadcastable to the input).
struct QuantParams {
  at::Tensor scale, zero_point;
};
QuantParams quant_params(const at::Tensor& min, const at::Tensor& max, const QuantSpec& spec);

// x^ with a straight-through gradient, in x's dtype. The arithmetic runs in fp32 (double for double): in
// bf16, x / s could land in the wrong bin and (q - z) s off the grid.
at::Tensor fake_quantize(const at::Tensor& x, const QuantParams& p, const QuantSpec& spec);

// The min and max of x reduced to the spec's granularity (kept as broadcastable dims). `channel_dim` is the
// channel axis for per-channel ranges (0 for a weight [out, in], -1 for activations).
std::pair<at::Tensor, at::Tensor> range_of(const at::Tensor& x, const QuantSpec& spec, int64_t channel_dim);

// A quantizer for one tensor site. Static specs learn their range in calibration (observe), then freeze;
// dynamic ones need neither.
class FakeQuantizer {
 public:
  FakeQuantizer(QuantSpec spec, int64_t channel_dim);
  void observe(const at::Tensor& x);  // calibration batch
  void freeze();                      // fixes (s, z) from what was observed
  at::Tensor forward(const at::Tensor& x) const;
  bool calibrated() const { return params_.scale.defined(); }
  const QuantSpec& spec() const { return spec_; }
  const QuantParams& params() const { return params_; }

 private:
  QuantSpec spec_;
  int64_t channel_dim_;
  at::Tensor min_, max_;                 // observed range
  std::vector<at::Tensor> samples_;      // calibration tensors kept for the MSE search
  QuantParams params_;
};

// The clip ratio (grid 1.0, 0.99, ..., 0.50) whose fake quantization of `x` has the least squared error,
// chosen per range group (per tensor, or per channel).
QuantParams mse_search(const at::Tensor& x, const QuantSpec& spec, int64_t channel_dim);

}  // namespace oasis
