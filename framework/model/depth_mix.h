// The arithmetic of one AttnRes routing site, as a single autograd operation:
//   z_i = (v_i . u) * inv_rms_i + offset_i,   w = softmax_i(z),   h = sum_i w_i v_i,   lse = LSE_i z_i
// for S sources v_i [N, d] per token. Written as ATen ops this is about ten passes over every source at
// every site (matvec, weighted sum, and their backward passes plus gradient accumulation); on CPU a fused
// kernel does it in one pass forward and one backward per source, which is what keeps AttnRes close to the
// standard residual stream in cost. Other devices use the ATen composition, which is also the reference
// the tests hold the kernel to (values and gradients).
#pragma once
#include <vector>

#include <ATen/core/Tensor.h>

namespace oasis {

struct DepthMix {
  at::Tensor h;        // [N, d]
  at::Tensor weights;  // [N, S]
  at::Tensor lse;      // [N]
};

// sources: S tensors [N, d]; inv_rms: [N, S]; u: [d]; offset: [N, S] or undefined. Everything but the
// sources' count may require gradients.
DepthMix depth_mix(const std::vector<at::Tensor>& sources, const at::Tensor& inv_rms, const at::Tensor& u,
                   const at::Tensor& offset);
DepthMix depth_mix_reference(const std::vector<at::Tensor>& sources, const at::Tensor& inv_rms, const at::Tensor& u,
                             const at::Tensor& offset);

}  // namespace oasis
