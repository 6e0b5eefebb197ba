#include "framework/model/normalizers.h"

#include "framework/core/cpu_kernels.h"
#include "framework/core/errors.h"
#include "framework/core/vector_exp.h"

namespace oasis {

namespace {

class Softmax : public ScoreNormalizer {
 public:
  Normalized forward(const at::Tensor& s, bool want_lse) override {
    return {torch::softmax(s, -1), want_lse ? torch::logsumexp(s, -1) : at::Tensor(), {}};
  }
};

// Rows [begin, end) of length L: with m = max_j s_j, e_j = e^{s_j - m}, LSE = m + log sum_j e_j,
// p_j = e_j sigmoid(LSE) / sum_j e_j (= e^{s_j} / (1 + sum e^{s})). One read pass for the max and one
// exp pass; the scaling pass runs on the row while it is in cache. Masked scores (-inf) give exact zeros.
template <typename T>
OASIS_CPU_CLONES void softmax1_forward_rows(const T* s, T* p, T* lse, int64_t begin, int64_t end, int64_t L) {
  for (int64_t r = begin; r < end; ++r) {
    const T* sr = s + r * L;
    T* pr = p + r * L;
    T m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < L; ++j) m = std::max(m, sr[j]);
    T total = 0;
#pragma omp simd reduction(+ : total)
    for (int64_t j = 0; j < L; ++j) total += (pr[j] = exp_fast(sr[j] - m));
    const T l = m + std::log(total);
    const T sigmoid = l >= 0 ? T(1) / (T(1) + std::exp(-l)) : std::exp(l) / (T(1) + std::exp(l));
    const T scale = sigmoid / total;
#pragma omp simd
    for (int64_t j = 0; j < L; ++j) pr[j] *= scale;
    lse[r] = l;
  }
}

// ds = p (g - sum_j g_j p_j + c) for rows [begin, end) of length L (c = 0 when `shift` is null).
template <typename T>
OASIS_CPU_CLONES void softmax1_backward_rows(const T* g, const T* p, const T* shift, T* out, int64_t begin,
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

// softmax1(s) = softmax(s) * sigmoid(LSE), as one autograd operation. The backward has the softmax form,
// ds = p (g - sum_j g_j p_j), plus dL/dLSE times dLSE/ds = softmax(s) = p (1 + e^{-LSE}); on CPU the forward
// and the backward are one fused kernel each, elsewhere ATen compositions.
class Softmax1Function : public torch::autograd::Function<Softmax1Function> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& s) {
    at::Tensor p, lse;
    if (s.device().is_cpu()) {
      std::tie(p, lse) = fused_cpu_forward(s);
    } else {
      p = torch::softmax(s, -1);
      lse = s.amax(-1) - torch::log(p.amax(-1));  // max softmax >= 1/T: exact to rounding, no score-sized temporaries
      p.mul_(torch::sigmoid(lse).unsqueeze(-1));
    }
    ctx->save_for_backward({p, lse});
    ctx->set_materialize_grads(false);
    return {p, lse};
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &p = saved[0], &lse = saved[1];
    at::Tensor lse_grad;  // per row: dL/dLSE (1 + e^{-LSE})
    if (grads[1].defined()) lse_grad = grads[1] * (1.0 + torch::exp(-lse));
    if (grads[0].defined() && p.device().is_cpu()) return {fused_cpu_backward(grads[0], p, lse_grad)};
    at::Tensor ds;
    if (grads[0].defined()) ds = torch::_softmax_backward_data(grads[0], p, -1, p.scalar_type());
    if (lse_grad.defined()) ds = ds.defined() ? ds.addcmul_(p, lse_grad.unsqueeze(-1)) : p * lse_grad.unsqueeze(-1);
    return {ds};
  }

 private:
  static std::pair<at::Tensor, at::Tensor> fused_cpu_forward(const at::Tensor& scores) {
    const auto s = scores.contiguous();
    auto p = torch::empty_like(s);
    auto lse = torch::empty(s.sizes().slice(0, s.dim() - 1), s.options());
    const int64_t L = s.size(-1), rows = s.numel() / L;
    AT_DISPATCH_FLOATING_TYPES(s.scalar_type(), "softmax1_forward", [&] {
      const scalar_t* in = s.data_ptr<scalar_t>();
      scalar_t *out = p.data_ptr<scalar_t>(), *l = lse.data_ptr<scalar_t>();
      at::parallel_for(0, rows, kRowsPerTask,
                       [&](int64_t begin, int64_t end) { softmax1_forward_rows(in, out, l, begin, end, L); });
    });
    return {p, lse};
  }

  static at::Tensor fused_cpu_backward(const at::Tensor& grad, const at::Tensor& probs, const at::Tensor& lse_grad) {
    const auto g = grad.contiguous(), p = probs.contiguous();
    const auto c = lse_grad.defined() ? lse_grad.contiguous() : at::Tensor();
    auto ds = torch::empty_like(p);
    const int64_t L = p.size(-1), rows = p.numel() / L;
    AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "softmax1_backward", [&] {
      const scalar_t *gp = g.data_ptr<scalar_t>(), *pp = p.data_ptr<scalar_t>();
      const scalar_t* cp = c.defined() ? c.data_ptr<scalar_t>() : nullptr;
      scalar_t* out = ds.data_ptr<scalar_t>();
      at::parallel_for(0, rows, kRowsPerTask,
                       [&](int64_t begin, int64_t end) { softmax1_backward_rows(gp, pp, cp, out, begin, end, L); });
    });
    return ds;
  }
};

class Softmax1 : public ScoreNormalizer {
 public:
  Normalized forward(const at::Tensor& s, bool) override {
    auto out = Softmax1Function::apply(s);
    return {out[0], out[1], torch::sigmoid(-out[1])};
  }
};

class Clipped : public ScoreNormalizer {
 public:
  Clipped(double gamma, double zeta) : gamma_(gamma), zeta_(zeta) {}
  Normalized forward(const at::Tensor& s, bool want_lse) override {
    auto p = torch::clamp((zeta_ - gamma_) * torch::softmax(s, -1) + gamma_, 0.0, 1.0);
    return {p, want_lse ? torch::logsumexp(s, -1) : at::Tensor(), {}};
  }

 private:
  double gamma_, zeta_;
};

class Softpick : public ScoreNormalizer {
 public:
  Normalized forward(const at::Tensor& s, bool want_lse) override {
    // Everything divided by e^m: num = relu(e^{s-m} - e^{-m}), den = sum |e^{s-m} - e^{-m}| + eps e^{-m}.
    auto m = std::get<0>(s.max(-1, true)).detach();
    auto shifted = torch::exp(s - m) - torch::exp(-m);
    auto valid = torch::isfinite(s).to(s.scalar_type());
    auto den = (shifted.abs() * valid).sum(-1, true) + 1e-8 * torch::exp(-m);
    auto p = torch::relu(shifted) * valid / den;
    return {p, want_lse ? torch::logsumexp(s, -1) : at::Tensor(), 1.0 - p.sum(-1)};
  }
};

class Sink : public ScoreNormalizer {
 public:
  explicit Sink(int64_t n_heads) { logit = register_parameter("logit", torch::zeros({n_heads})); }
  Normalized forward(const at::Tensor& s, bool) override {
    auto lse = torch::logsumexp(s, -1);                                     // [B, H, T]
    auto sink = logit.view({1, -1, 1}).expand_as(lse);
    auto total = torch::logaddexp(lse, sink);
    return {torch::exp(s - total.unsqueeze(-1)), lse, torch::exp(sink - total)};
  }
  at::Tensor logit;
};

}  // namespace

std::shared_ptr<ScoreNormalizer> make_normalizer(const std::string& kind, int64_t n_heads, double clip_alpha,
                                                 double clip_zeta, int64_t clip_length) {
  if (kind == "softmax") return std::make_shared<Softmax>();
  if (kind == "softmax1") return std::make_shared<Softmax1>();
  if (kind == "clipped") return std::make_shared<Clipped>(-clip_alpha / double(clip_length), clip_zeta);
  if (kind == "softpick") return std::make_shared<Softpick>();
  if (kind == "sink") return std::make_shared<Sink>(n_heads);
  throw ConfigError("model.normalizer: unknown normalizer '" + kind + "'");
}

}  // namespace oasis
