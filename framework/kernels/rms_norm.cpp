#include "framework/kernels/rms_norm.h"

#include <cmath>

#include "framework/kernels/cpu_kernels.h"

namespace oasis {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

template <typename T>
OASIS_CPU_CLONES void forward_tokens(const T* x, const T* w, T eps, T* y, T* r, int64_t begin, int64_t end, int64_t d) {
  for (int64_t n = begin; n < end; ++n) {
    const T* xn = x + n * d;
    T squares = 0;
#pragma omp simd reduction(+ : squares)
    for (int64_t k = 0; k < d; ++k) squares += xn[k] * xn[k];
    const T rn = T(1) / std::sqrt(squares / T(d) + eps);
    r[n] = rn;
    T* yn = y + n * d;
#pragma omp simd
    for (int64_t k = 0; k < d; ++k) yn[k] = xn[k] * rn * w[k];
  }
}

// Per token, with gw = g * w: dx = r gw - x r^3 / d sum_k gw_k x_k; dw += g x r.
template <typename T>
OASIS_CPU_CLONES void backward_tokens(const T* x, const T* w, const T* r, const T* g, T* dx, T* dw, int64_t begin,
                                      int64_t end, int64_t d) {
  for (int64_t n = begin; n < end; ++n) {
    const T *xn = x + n * d, *gn = g + n * d;
    const T rn = r[n];
    T projection = 0;
#pragma omp simd reduction(+ : projection)
    for (int64_t k = 0; k < d; ++k) projection += gn[k] * w[k] * xn[k];
    const T along_x = -projection * rn * rn * rn / T(d);
    T* dxn = dx + n * d;
#pragma omp simd
    for (int64_t k = 0; k < d; ++k) {
      dxn[k] = rn * gn[k] * w[k] + along_x * xn[k];
      dw[k] += gn[k] * xn[k] * rn;
    }
  }
}

class FusedRmsNorm : public torch::autograd::Function<FusedRmsNorm> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight, double eps) {
    const auto x = input.contiguous(), w = weight.contiguous();
    const int64_t d = x.size(-1), N = x.numel() / d;
    auto y = torch::empty_like(x);
    auto r = torch::empty({N}, x.options());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rms_norm_forward", [&] {
      const scalar_t *xp = x.data_ptr<scalar_t>(), *wp = w.data_ptr<scalar_t>();
      scalar_t *yp = y.data_ptr<scalar_t>(), *rp = r.data_ptr<scalar_t>();
      at::parallel_for(0, N, 64, [&](int64_t begin, int64_t end) {
        forward_tokens(xp, wp, scalar_t(eps), yp, rp, begin, end, d);
      });
    });
    ctx->save_for_backward({x, w, r});
    return {y};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1], &r = saved[2];
    const auto g = grads[0].contiguous();
    const int64_t d = x.size(-1), N = x.numel() / d;
    auto dx = torch::empty_like(x);
    auto dw = torch::empty({d}, x.options());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rms_norm_backward", [&] {
      const scalar_t *xp = x.data_ptr<scalar_t>(), *wp = w.data_ptr<scalar_t>(), *rp = r.data_ptr<scalar_t>();
      const scalar_t* gp = g.data_ptr<scalar_t>();
      scalar_t* dxp = dx.data_ptr<scalar_t>();
      sum_over_token_chunks(N, d, dw.data_ptr<scalar_t>(), [&](int64_t begin, int64_t end, scalar_t* dw_part) {
        backward_tokens(xp, wp, rp, gp, dxp, dw_part, begin, end, d);
      });
    });
    return {dx, dw, at::Tensor()};
  }
};

}  // namespace

torch::Tensor inverse_rms(const torch::Tensor& x, double eps) {
  return torch::rsqrt(torch::linalg_vector_norm(x, 2, {-1}).square() / double(x.size(-1)) + eps);
}

torch::Tensor rms_norm_reference(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  return x * inverse_rms(x, eps).unsqueeze(-1) * weight;
}

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  if (!x.device().is_cpu()) return rms_norm_reference(x, weight, eps);
  return FusedRmsNorm::apply(x, weight, eps)[0];
}

}  // namespace oasis
