// The arithmetic of one AttnRes routing site, as a single autograd operation:
//   r_i = 1 / sqrt(mean_k v_ik^2 + eps),   z_i = (v_i . u) r_i + offset_i,
//   w = softmax_i(z),   h = sum_i w_i v_i,   lse = LSE_i z_i
// for S sources v_i [N, d] per token (RMSNorm_g(v) . q = (v . (g * q)) r, so u = g * q). Written as ATen
// ops this is about a dozen passes over every source at every site (norms, matvec, weighted sum, their
// backward passes and gradient accumulation); on CPU a fused kernel reads each source once forward (dot and
// sum of squares together) and once backward, which is what keeps AttnRes close to the standard residual
// stream in cost. Other devices use the ATen composition, which is also the reference the tests hold the
// kernel to (values and gradients).
#pragma once
#include <vector>

#include <ATen/core/Tensor.h>

namespace oasis {

struct DepthMix {
  at::Tensor h;        // [N, d]
  at::Tensor weights;  // [N, S]
  at::Tensor lse;      // [N]
};

// sources: S tensors [N, d]; u: [d]; offset: [N, S] or undefined; eps: the key norm's epsilon.
// Everything but the sources' count may require gradients.
DepthMix depth_mix(const std::vector<at::Tensor>& sources, const at::Tensor& u, const at::Tensor& offset, double eps);
DepthMix depth_mix_reference(const std::vector<at::Tensor>& sources, const at::Tensor& u, const at::Tensor& offset,
                             double eps);

}  // namespace oasis
