#include "framework/kernels/depth_mix.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "framework/kernels/cpu_kernels.h"
#include "framework/kernels/rms_norm.h"

namespace oasis {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Tokens [begin, end) of the forward pass.
template <typename T>
OASIS_CPU_CLONES void forward_tokens(const std::vector<const T*>& src, const T* u, const T* off, T eps, T* h, T* w,
                                     T* r, T* lse, int64_t begin, int64_t end, int64_t S, int64_t d) {
  std::vector<T> z(S);
  for (int64_t n = begin; n < end; ++n) {
    T *wn = w + n * S, *rn = r + n * S;
    T m = -INFINITY;
    for (int64_t i = 0; i < S; ++i) {
      const T* v = src[i] + n * d;
      T uv = 0, vv = 0;
#pragma omp simd reduction(+ : uv, vv)
      for (int64_t k = 0; k < d; ++k) {
        uv += v[k] * u[k];
        vv += v[k] * v[k];
      }
      rn[i] = T(1) / std::sqrt(vv / T(d) + eps);
      z[i] = uv * rn[i] + (off ? off[n * S + i] : T(0));
      m = std::max(m, z[i]);
    }
    T total = 0;
    for (int64_t i = 0; i < S; ++i) total += (wn[i] = std::exp(z[i] - m));
    for (int64_t i = 0; i < S; ++i) wn[i] /= total;
    lse[n] = m + std::log(total);
    T* hn = h + n * d;
    const T* v0 = src[0] + n * d;
#pragma omp simd
    for (int64_t k = 0; k < d; ++k) hn[k] = wn[0] * v0[k];
    for (int64_t i = 1; i < S; ++i) {
      const T* v = src[i] + n * d;
      const T wi = wn[i];
#pragma omp simd
      for (int64_t k = 0; k < d; ++k) hn[k] += wi * v[k];
    }
  }
}

template <typename T>
void forward_kernel(const std::vector<const T*>& src, const T* u, const T* off, T eps, T* h, T* w, T* r, T* lse,
                    int64_t N, int64_t S, int64_t d) {
  at::parallel_for(0, N, 64, [&](int64_t begin, int64_t end) {
    forward_tokens(src, u, off, eps, h, w, r, lse, begin, end, S, d);
  });
}

// Per token: gw_i = g.v_i + dL/dw_i, gz_i = w_i (gw_i - sum_j w_j gw_j) + dL/dlse w_i; with
// dz_i/dv_i = r_i u - (v_i . u) r_i^3 v_i / d:
//   dv_i = w_i g + gz_i r_i u - gz_i (v_i . u) r_i^3 / d v_i,   doffset_i = gz_i,   du += gz_i r_i v_i.
// Tokens [begin, end), their du added to `du`.
template <typename T>
OASIS_CPU_CLONES void backward_tokens(const std::vector<const T*>& src, const T* u, const T* w, const T* r,
                                      const T* g_h, const T* g_w, const T* g_lse, const std::vector<T*>& d_src,
                                      T* d_off, T* du, int64_t begin, int64_t end, int64_t S, int64_t d) {
  std::vector<T> gz(S), uv(S);
  for (int64_t n = begin; n < end; ++n) {
    const T *wn = w + n * S, *rn = r + n * S;
    const T* g = g_h ? g_h + n * d : nullptr;
    T weighted = 0;
    for (int64_t i = 0; i < S; ++i) {
      const T* v = src[i] + n * d;
      T vu = 0, vg = 0;
      if (g) {
#pragma omp simd reduction(+ : vu, vg)
        for (int64_t k = 0; k < d; ++k) {
          vu += v[k] * u[k];
          vg += v[k] * g[k];
        }
      } else {
#pragma omp simd reduction(+ : vu)
        for (int64_t k = 0; k < d; ++k) vu += v[k] * u[k];
      }
      uv[i] = vu;
      gz[i] = vg + (g_w ? g_w[n * S + i] : T(0));  // gw_i for now
      weighted += wn[i] * gz[i];
    }
    const T lse_grad = g_lse ? g_lse[n] : T(0);
    for (int64_t i = 0; i < S; ++i) {
      gz[i] = wn[i] * (gz[i] - weighted + lse_grad);
      if (d_off) d_off[n * S + i] = gz[i];
      const T along_u = gz[i] * rn[i], along_v = -gz[i] * uv[i] * rn[i] * rn[i] * rn[i] / T(d), wi = wn[i];
      const T* v = src[i] + n * d;
      T* dv = d_src[i] + n * d;
      if (g) {
#pragma omp simd
        for (int64_t k = 0; k < d; ++k) dv[k] = wi * g[k] + along_u * u[k] + along_v * v[k];
      } else {
#pragma omp simd
        for (int64_t k = 0; k < d; ++k) dv[k] = along_u * u[k] + along_v * v[k];
      }
#pragma omp simd
      for (int64_t k = 0; k < d; ++k) du[k] += along_u * v[k];
    }
  }
}

template <typename T>
void backward_kernel(const std::vector<const T*>& src, const T* u, const T* w, const T* r, const T* g_h,
                     const T* g_w, const T* g_lse, const std::vector<T*>& d_src, T* d_off, T* d_u, int64_t N,
                     int64_t S, int64_t d) {
  sum_over_token_chunks(N, d, d_u, [&](int64_t begin, int64_t end, T* du) {
    backward_tokens(src, u, w, r, g_h, g_w, g_lse, d_src, d_off, du, begin, end, S, d);
  });
}

template <typename T>
std::vector<const T*> pointers(const variable_list& tensors) {
  std::vector<const T*> out;
  for (const auto& t : tensors) out.push_back(t.data_ptr<T>());
  return out;
}

class FusedDepthMix : public torch::autograd::Function<FusedDepthMix> {
 public:
  static variable_list forward(AutogradContext* ctx, at::TensorList sources, const at::Tensor& u,
                               const at::Tensor& offset, double eps) {
    const int64_t S = int64_t(sources.size()), N = sources[0].size(0), d = u.size(0);
    auto h = torch::empty({N, d}, u.options());
    auto w = torch::empty({N, S}, u.options()), r = torch::empty({N, S}, u.options());
    auto lse = torch::empty({N}, u.options());
    AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "depth_mix_forward", [&] {
      forward_kernel<scalar_t>(pointers<scalar_t>(sources.vec()), u.data_ptr<scalar_t>(),
                               offset.numel() ? offset.data_ptr<scalar_t>() : nullptr, scalar_t(eps),
                               h.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(), r.data_ptr<scalar_t>(),
                               lse.data_ptr<scalar_t>(), N, S, d);
    });
    variable_list saved = sources.vec();
    saved.insert(saved.end(), {u, w, r});
    ctx->save_for_backward(saved);
    ctx->saved_data["has_offset"] = offset.numel() > 0;
    ctx->set_materialize_grads(false);
    return {h, w, lse};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    variable_list saved = ctx->get_saved_variables();
    const at::Tensor r = saved.back(), w = saved[saved.size() - 2], u = saved[saved.size() - 3];
    saved.resize(saved.size() - 3);
    const int64_t S = int64_t(saved.size()), N = w.size(0), d = u.size(0);
    auto contiguous = [](const at::Tensor& g) { return g.defined() ? g.contiguous() : g; };
    const at::Tensor g_h = contiguous(grads[0]), g_w = contiguous(grads[1]), g_lse = contiguous(grads[2]);
    variable_list out;
    for (int64_t i = 0; i < S; ++i) out.push_back(torch::empty({N, d}, u.options()));
    at::Tensor d_off;
    if (ctx->saved_data["has_offset"].toBool()) d_off = torch::empty({N, S}, u.options());
    auto d_u = torch::empty({d}, u.options());
    AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "depth_mix_backward", [&] {
      auto ptr = [](const at::Tensor& t) { return t.defined() ? t.data_ptr<scalar_t>() : nullptr; };
      std::vector<scalar_t*> d_src;
      for (auto& t : out) d_src.push_back(t.data_ptr<scalar_t>());
      backward_kernel<scalar_t>(pointers<scalar_t>(saved), u.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(),
                                r.data_ptr<scalar_t>(), ptr(g_h), ptr(g_w), ptr(g_lse), d_src, ptr(d_off),
                                d_u.data_ptr<scalar_t>(), N, S, d);
    });
    out.insert(out.end(), {d_u, d_off, at::Tensor()});
    return out;
  }
};

}  // namespace

DepthMix depth_mix_reference(const std::vector<at::Tensor>& sources, const at::Tensor& u, const at::Tensor& offset,
                             double eps) {
  std::vector<at::Tensor> logits;
  for (const auto& v : sources) logits.push_back(torch::matmul(v, u) * inverse_rms(v, eps));
  auto z = torch::stack(logits, 1);
  if (offset.defined()) z = z + offset;
  auto w = torch::softmax(z, 1);
  auto h = sources[0] * w.select(1, 0).unsqueeze(-1);
  for (size_t i = 1; i < sources.size(); ++i) h = torch::addcmul(h, sources[i], w.select(1, int64_t(i)).unsqueeze(-1));
  return {h, w, torch::logsumexp(z, 1)};
}

DepthMix depth_mix(const std::vector<at::Tensor>& sources, const at::Tensor& u, const at::Tensor& offset, double eps) {
  if (!u.device().is_cpu()) return depth_mix_reference(sources, u, offset, eps);
  std::vector<at::Tensor> contiguous;
  for (const auto& v : sources) contiguous.push_back(v.contiguous());
  // No offset: an empty tensor (autograd functions take no undefined inputs).
  auto r = FusedDepthMix::apply(at::TensorList(contiguous), u.contiguous(),
                                offset.defined() ? offset.contiguous() : torch::empty({0}, u.options()), eps);
  return {r[0], r[1], r[2]};
}

}  // namespace oasis
