// Attention when nobody looks at the weights (training and evaluation without taps): one call of the
// library's scaled-dot-product attention, which runs flash / memory-efficient kernels (CUDA) or its CPU
// flash kernel, none of which materialise the [T, S] matrix. Gradients come from the library's backward.
//
// Softmax1 goes through the same kernels. Softmax over the scores plus one zero logit is Softmax1, so a
// null key (zeros: score q.0 = 0) with a zero value, placed before the keys and visible to every query,
// takes the null mass and adds nothing to the output. Under the causal flag a dummy query goes before the
// queries too: query i + 1 of the padded square block then sees the null key and keys 0..i, so the causal
// kernel needs no mask tensor (the dummy row is dropped).
//
// OASIS also needs each query's LSE of the real scores and its null mass, with their gradients. Two more
// value channels carry them: 1 on every real key (its output is the real mass sum_j p_j) and 1 on the null
// key (its output is the null mass nu); LSE = log(sum_j p_j) - log(nu). q and k get zero channels to keep
// the three head sizes equal (a multiple of 8, as the fused kernels want); they change no score, and the
// scale stays 1/sqrt(D). In bf16 the two masses come out with bf16's 8 bits (LSE to about 0.01); when a
// query's largest score passes ~87 the null mass underflows in fp32 and bf16 alike and the LSE is clamped
// there (the written-out path has no such limit; statistics always use it).
//
// Tests (tests/kernels/fused_attention_test.cpp) compare both forms with the written-out attention.
#pragma once
#include <ATen/ATen.h>

#include "framework/kernels/score_mask.h"

namespace oasis {

struct FusedAttention {
  at::Tensor out;        // [B, H, T, D]
  at::Tensor lse;        // [B, H, T] fp32 (double for double inputs), with `null_statistics` only
  at::Tensor null_mass;  // [B, H, T] likewise
};

// q [B, H, T, D], k and v [B, H, S, D], for FusedForm softmax or softmax1; `null_statistics` (softmax1
// only) also returns the LSE and the null mass.
FusedAttention fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const ScoreMask& mask,
                               FusedForm form, bool null_statistics = false);

}  // namespace oasis
