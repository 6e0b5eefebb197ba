#include "framework/kernels/fused_attention.h"

#include <cmath>
#include <limits>

#include <optional>

namespace oasis {

namespace {

// softmax(scale q k^T) v with `causal` (query i sees keys 0..i of a square block) or `hidden` (bool, true =
// not seen, broadcastable to [B, H, T, S]) or neither. The library's mask means the opposite: true = seen.
at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& hidden, bool causal,
                double scale) {
  const auto allowed = hidden.defined() ? std::optional<at::Tensor>(hidden.logical_not()) : std::nullopt;
  return at::scaled_dot_product_attention(q, k, v, allowed, 0.0, causal, scale);
}

constexpr int64_t kStatisticChannels = 8;  // real mass, null mass, 6 zeros: head sizes stay multiples of 8

// x [.., n, D] with `rows` rows of `value` before it along dim 2.
at::Tensor prepend_rows(const at::Tensor& x, int64_t rows, const at::Tensor& value) {
  return torch::cat({value.expand({x.size(0), x.size(1), rows, x.size(3)}), x}, 2);
}

at::Tensor pad_channels(const at::Tensor& x, int64_t channels) {
  return channels ? torch::constant_pad_nd(x, {0, channels}) : x;
}

}  // namespace

FusedAttention fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const ScoreMask& mask,
                               FusedForm form, bool null_statistics) {
  TORCH_CHECK(form != FusedForm::none, "fused_attention: this normalizer has no fused form");
  TORCH_CHECK(!null_statistics || form == FusedForm::softmax1, "fused_attention: null statistics need softmax1");
  const int64_t D = q.size(3);
  const double scale = 1.0 / std::sqrt(double(D));
  if (form == FusedForm::softmax)
    return {sdpa(q, k, v, mask.blocked, mask.causal, scale), {}, {}};

  const int64_t extra = null_statistics ? kStatisticChannels : 0;
  auto zero_row = torch::zeros({1, 1, 1, D + extra}, v.options());
  auto null_value = zero_row;
  if (null_statistics) {
    null_value = zero_row.clone();
    null_value.select(3, D + 1).fill_(1);
  }
  auto keys = prepend_rows(pad_channels(k, extra), 1, zero_row);
  auto values = pad_channels(v, extra);
  if (null_statistics) values.select(3, D).fill_(1);
  values = prepend_rows(values, 1, null_value);
  auto queries = pad_channels(q, extra);

  at::Tensor out;
  if (mask.causal) {  // a dummy query first: the padded block is causal as it stands
    out = sdpa(prepend_rows(queries, 1, zero_row), keys, values, {}, true, scale)
              .narrow(2, 1, q.size(2));
  } else {
    at::Tensor hidden = mask.blocked;
    if (hidden.defined()) hidden = torch::cat({torch::zeros_like(hidden.narrow(-1, 0, 1)), hidden}, -1);
    out = sdpa(queries, keys, values, hidden, false, scale);
  }
  if (!null_statistics) return {out, {}, {}};
  const double tiny = std::numeric_limits<float>::min();
  const auto stat_type = at::promote_types(out.scalar_type(), at::kFloat);  // fp32, or double in double
  auto real = out.select(3, D).to(stat_type).clamp_min(tiny), null = out.select(3, D + 1).to(stat_type);
  return {out.narrow(3, 0, D), torch::log(real) - torch::log(null.clamp_min(tiny)), null};
}

}  // namespace oasis
