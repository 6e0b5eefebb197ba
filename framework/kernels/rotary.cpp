#include "framework/kernels/rotary.h"

#include "framework/kernels/cpu_kernels.h"

namespace oasis {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows r = (b, h, t) in [begin, end); x rows at b * xs[0] + h * xs[1] + t * xs[2] (unit stride within a
// row), tables at b * table_batch + t * half, output contiguous. `sign` -1 rotates back (the backward).
template <typename T>
OASIS_CPU_CLONES void rotate_rows(const T* x, const int64_t* xs, const T* cos, const T* sin, int64_t table_batch,
                                  T* out, int64_t begin, int64_t end, int64_t H, int64_t Tn, int64_t half, T sign) {
  for (int64_t r = begin; r < end; ++r) {
    const int64_t t = r % Tn, h = (r / Tn) % H, b = r / (Tn * H);
    const T* x1 = x + b * xs[0] + h * xs[1] + t * xs[2];
    const T* x2 = x1 + half;
    const T *c = cos + b * table_batch + t * half, *s = sin + b * table_batch + t * half;
    T* o1 = out + r * 2 * half;
    T* o2 = o1 + half;
#pragma omp simd
    for (int64_t k = 0; k < half; ++k) {
      const T sk = sign * s[k];
      o1[k] = x1[k] * c[k] - x2[k] * sk;
      o2[k] = x2[k] * c[k] + x1[k] * sk;
    }
  }
}

at::Tensor rotate_cpu(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, double sign) {
  const int64_t B = x.size(0), H = x.size(1), Tn = x.size(2), half = x.size(3) / 2;
  const auto input = x.stride(3) == 1 ? x : x.contiguous();
  const auto c = cos.contiguous(), s = sin.contiguous();
  const int64_t table_batch = c.size(0) == 1 ? 0 : Tn * half;
  const int64_t strides[3] = {input.stride(0), input.stride(1), input.stride(2)};
  auto out = torch::empty({B, H, Tn, 2 * half}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rotate_half", [&] {
    const scalar_t *in = input.data_ptr<scalar_t>(), *cp = c.data_ptr<scalar_t>(), *sp = s.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    at::parallel_for(0, B * H * Tn, 64, [&](int64_t begin, int64_t end) {
      rotate_rows(in, strides, cp, sp, table_batch, o, begin, end, H, Tn, half, scalar_t(sign));
    });
  });
  return out;
}

class RotateHalf : public torch::autograd::Function<RotateHalf> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    ctx->save_for_backward({cos, sin});
    return {rotate_cpu(x, cos, sin, 1.0)};
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    return {rotate_cpu(grads[0], saved[0], saved[1], -1.0), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

torch::Tensor rotate_half_reference(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(3) / 2;
  const auto c = cos.unsqueeze(1), s = sin.unsqueeze(1);  // [Bt, 1, T, D/2]
  auto x1 = x.slice(-1, 0, half), x2 = x.slice(-1, half);
  return torch::cat({x1 * c - x2 * s, x2 * c + x1 * s}, -1);
}

torch::Tensor rotate_half(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  if (!x.device().is_cpu()) return rotate_half_reference(x, cos, sin);
  return RotateHalf::apply(x, cos, sin)[0];
}

Rotary::Rotary(int64_t head_dim, int64_t max_seq_len, double theta) {
  const int64_t half = head_dim / 2;
  auto inv_freq = torch::pow(theta, -torch::arange(0, half, torch::kDouble) / double(half));
  auto angles = torch::outer(torch::arange(0, max_seq_len, torch::kDouble), inv_freq);
  cos_ = angles.cos().to(torch::kFloat);
  sin_ = angles.sin().to(torch::kFloat);
}

namespace {
// bf16 q and k are rotated in fp32 (angles of late positions lose their low bits in bf16) and cast back.
torch::Tensor rotate_in_float(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const auto dtype = x.scalar_type();
  if (dtype == at::kBFloat16 || dtype == at::kHalf) return rotate_half(x.to(at::kFloat), cos, sin).to(dtype);
  return rotate_half(x, cos.to(dtype), sin.to(dtype));
}
}  // namespace

torch::Tensor Rotary::apply(const torch::Tensor& x) const {
  const int64_t T = x.size(2);
  auto cos = cos_.slice(0, 0, T).to(x.device()).unsqueeze(0);  // [1, T, D/2]
  auto sin = sin_.slice(0, 0, T).to(x.device()).unsqueeze(0);
  return rotate_in_float(x, cos, sin);
}

torch::Tensor Rotary::apply(const torch::Tensor& x, const torch::Tensor& positions) const {
  auto cos = cos_.to(x.device()).index({positions});  // [B, T, D/2]
  auto sin = sin_.to(x.device()).index({positions});
  return rotate_in_float(x, cos, sin);
}

}  // namespace oasis
