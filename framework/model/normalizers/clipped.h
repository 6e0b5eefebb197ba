// Clipped softmax (Bondarenko et al., 2023): p = clip((zeta - gamma) softmax(s) + gamma, 0, 1) with
// gamma = -alpha / T. T is the fixed context length the model is trained at (their max_seq_length /
// block_size), not the row's length: the same token then gets the same weights in a short prompt, a long
// window and incremental decoding. Options: model.clipped.{alpha, zeta, length}.
#pragma once
#include <cstdint>

#include "framework/core/config_fields.h"

namespace oasis {

struct ClippedOptions {
  double alpha = 12.0;
  double zeta = 1.0;
  int64_t length = 0;  // T of gamma = -alpha / T; 0 = the training context length (data.seq_len)

  template <class V>
  void visit(V& v) {
    v.field("alpha", alpha, "gamma = -alpha / T", between(0.0, 1e6));
    v.field("zeta", zeta, "stretch zeta (>= 1)", between(1.0, 10.0));
    v.field("length", length, "the fixed T of gamma = -alpha / T; 0 = data.seq_len", between<int64_t>(0, 1 << 20));
  }
};

}  // namespace oasis
