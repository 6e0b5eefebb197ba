// What every model in the registry is: token ids [B, T] -> next-token logits [B, T, vocab]. Trainers,
// evaluators, probes and quantizers see models only through this interface; a probe attaches a
// TapObserver to receive the named intermediate tensors.
#pragma once
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "framework/model/taps.h"

namespace oasis {

// Incremental decoding state of one batch: each layer's keys and values so far, which key positions
// hold real tokens (false at left padding) and each row's next rotary position.
struct KVCache {
  std::vector<at::Tensor> keys, values;  // per layer, [B, H_kv, S, D] (the key/value heads)
  at::Tensor key_valid;                  // [B, S] bool
  at::Tensor next_position;              // [B] int64
  int64_t length() const { return key_valid.defined() ? key_valid.size(1) : 0; }
  // Keeps only the batch rows `rows` (int64 indices), e.g. to drop finished sequences.
  void keep_rows(const at::Tensor& rows) {
    for (auto* list : {&keys, &values})
      for (auto& t : *list) t = t.index_select(0, rows);
    key_valid = key_valid.index_select(0, rows);
    next_position = next_position.index_select(0, rows);
  }
};

// How a model computes, not what: set after building (and moving) it.
struct ComputeSettings {
  // The matmuls' dtype, fp32 or bf16. Parameters stay fp32 either way (the master weights the optimizer
  // updates); norms, normalizers, routing and the residual stream stay fp32.
  c10::ScalarType dtype = c10::kFloat;
  // Softmax and Softmax1 attention as one fused call while no taps are attached (kernels/fused_attention.h).
  bool fused_attention = false;
  // As run files record it (the config key's resolved value).
  const char* attention_kernel() const { return fused_attention ? "fused" : "written"; }
};

class LanguageModel : public torch::nn::Module {
 public:
  virtual at::Tensor forward(const at::Tensor& tokens) = 0;
  // Next-token logits [B, T, vocab] of `tokens` [B, T] continuing the sequences in `cache` (empty: a new
  // batch), which the call extends. `valid` [B, T] is false at left padding: no real token attends to
  // it and it takes no position. The same numbers as forward() on the unpadded sequences.
  virtual at::Tensor decode(const at::Tensor& tokens, const at::Tensor& valid, KVCache& cache) = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t max_seq_len() const = 0;
  virtual void configure(const ComputeSettings& settings) = 0;
  // nullptr detaches; taps cost nothing while detached.
  void attach(TapObserver* observer) { observer_ = observer; }
  void attach_transform(TapTransform* transform) { transform_ = transform; }

 protected:
  Taps root_taps() const { return {observer_, "", transform_}; }
  TapObserver* observer_ = nullptr;
  TapTransform* transform_ = nullptr;
};

}  // namespace oasis
