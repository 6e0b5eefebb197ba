#include "framework/kernels/softmax.h"

#include <cmath>

#include "framework/kernels/cpu_kernels.h"
#include "framework/kernels/vector_exp.h"

namespace oasis {

namespace {

// Rows [begin, end) of length L. With `causal_T` > 0 row r is query r % T of a causal [T, T] block and sees
// keys 0..r % T; the keys after it are written as zeros without being read. Over the visible keys:
// m = max s_j, e_j = e^{s_j - m}, LSE = m + log sum e_j, p_j = k e_j / sum e_j with k = 1 (softmax) or
// k = sigmoid(LSE) (softmax1: p_j = e^{s_j} / (1 + sum e^{s})). Hidden keys given as -inf give exact zeros.
template <typename T>
OASIS_CPU_CLONES void softmax_forward_rows(const T* s, T* p, T* lse, int64_t begin, int64_t end, int64_t L,
                                           int64_t causal_T, bool null_logit) {
  for (int64_t r = begin; r < end; ++r) {
    const T* sr = s + r * L;
    T* pr = p + r * L;
    const int64_t n = causal_T ? r % causal_T + 1 : L;
    T m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < n; ++j) m = std::max(m, sr[j]);
    T total = 0;
#pragma omp simd reduction(+ : total)
    for (int64_t j = 0; j < n; ++j) total += (pr[j] = exp_fast(sr[j] - m));
    const T l = m + std::log(total);
    T keep = 1;
    if (null_logit) keep = l >= 0 ? T(1) / (T(1) + std::exp(-l)) : std::exp(l) / (T(1) + std::exp(l));
    const T scale = keep / total;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) pr[j] *= scale;
    std::fill(pr + n, pr + L, T(0));
    lse[r] = l;
  }
}

// ds = p (g - sum_j g_j p_j + c) for rows [begin, end) of length L (c = 0 when `shift` is null). Hidden keys
// have p = 0 and so get no gradient, as through a masked fill.
template <typename T>
OASIS_CPU_CLONES void softmax_backward_rows(const T* g, const T* p, const T* shift, T* out, int64_t begin,
                                            int64_t end, int64_t L) {
  for (int64_t r = begin; r < end; ++r) {
    const T *gr = g + r * L, *pr = p + r * L;
    T dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < L; ++j) dot += gr[j] * pr[j];
    const T offset = (shift ? shift[r] : T(0)) - dot;
    T* o = out + r * L;
#pragma omp simd
    for (int64_t j = 0; j < L; ++j) o[j] = pr[j] * (gr[j] + offset);
  }
}

constexpr int64_t kRowsPerTask = 16;

// Softmax (null_logit false) or Softmax1 (true) of the scores and their LSE as one autograd operation. The
// backward has the softmax form, ds = p (g - sum_j g_j p_j), plus dL/dLSE times dLSE/ds = softmax(s), which
// is p for softmax and p (1 + e^{-LSE}) for softmax1. On CPU each direction is one fused kernel (`causal`:
// the scores are unmasked and the kernel applies the causal mask); elsewhere ATen compositions on masked
// scores.
class SoftmaxWithLse : public torch::autograd::Function<SoftmaxWithLse> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& s,
                                                bool causal, bool null_logit) {
    at::Tensor p, lse;
    if (s.device().is_cpu()) {
      std::tie(p, lse) = cpu_forward(s, causal, null_logit);
    } else {
      TORCH_CHECK(!causal, "SoftmaxWithLse: off the CPU the caller applies the mask");
      p = torch::softmax(s, -1);
      lse = s.amax(-1) - torch::log(p.amax(-1));  // max softmax >= 1/S: exact to rounding, no score-sized temporaries
      if (null_logit) p.mul_(torch::sigmoid(lse).unsqueeze(-1));
    }
    ctx->save_for_backward({p, lse});
    ctx->saved_data["null_logit"] = null_logit;
    ctx->set_materialize_grads(false);
    return {p, lse};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &p = saved[0], &lse = saved[1];
    at::Tensor lse_grad;  // per row: dL/dLSE, times (1 + e^{-LSE}) for softmax1
    if (grads[1].defined())
      lse_grad = ctx->saved_data["null_logit"].toBool() ? grads[1] * (1.0 + torch::exp(-lse)) : grads[1];
    at::Tensor ds;
    if (grads[0].defined() && p.device().is_cpu()) {
      ds = cpu_backward(grads[0], p, lse_grad);
    } else {
      if (grads[0].defined()) ds = torch::_softmax_backward_data(grads[0], p, -1, p.scalar_type());
      if (lse_grad.defined()) ds = ds.defined() ? ds.addcmul_(p, lse_grad.unsqueeze(-1)) : p * lse_grad.unsqueeze(-1);
    }
    return {ds, at::Tensor(), at::Tensor()};
  }

 private:
  static std::pair<at::Tensor, at::Tensor> cpu_forward(const at::Tensor& scores, bool causal, bool null_logit) {
    const auto s = scores.contiguous();
    const int64_t L = s.size(-1), rows = s.numel() / L;
    TORCH_CHECK(!causal || s.size(-2) == L, "causal scores must be square, got ", s.sizes());
    auto p = torch::empty_like(s);
    auto lse = torch::empty(s.sizes().slice(0, s.dim() - 1), s.options());
    AT_DISPATCH_FLOATING_TYPES(s.scalar_type(), "softmax_forward", [&] {
      const scalar_t* in = s.data_ptr<scalar_t>();
      scalar_t *out = p.data_ptr<scalar_t>(), *l = lse.data_ptr<scalar_t>();
      at::parallel_for(0, rows, kRowsPerTask, [&](int64_t begin, int64_t end) {
        softmax_forward_rows(in, out, l, begin, end, L, causal ? L : 0, null_logit);
      });
    });
    return {p, lse};
  }

  static at::Tensor cpu_backward(const at::Tensor& grad, const at::Tensor& probs, const at::Tensor& lse_grad) {
    const auto g = grad.contiguous(), p = probs.contiguous();
    const auto c = lse_grad.defined() ? lse_grad.contiguous() : at::Tensor();
    auto ds = torch::empty_like(p);
    const int64_t L = p.size(-1), rows = p.numel() / L;
    AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "softmax_backward", [&] {
      const scalar_t *gp = g.data_ptr<scalar_t>(), *pp = p.data_ptr<scalar_t>();
      const scalar_t* cp = c.defined() ? c.data_ptr<scalar_t>() : nullptr;
      scalar_t* out = ds.data_ptr<scalar_t>();
      at::parallel_for(0, rows, kRowsPerTask,
                       [&](int64_t begin, int64_t end) { softmax_backward_rows(gp, pp, cp, out, begin, end, L); });
    });
    return ds;
  }
};

}  // namespace

torch::autograd::variable_list fused_softmax_with_lse(const at::Tensor& scores, bool causal, bool null_logit) {
  return SoftmaxWithLse::apply(scores, causal, null_logit);
}

}  // namespace oasis
