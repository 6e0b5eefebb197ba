// What every model in the registry is: token ids [B, T] -> next-token logits [B, T, vocab]. Trainers,
// evaluators, probes and quantizers see models only through this interface; a probe attaches a
// TapObserver to receive the named intermediate tensors.
#pragma once
#include <string>

#include <torch/nn/module.h>

#include "framework/model/taps.h"

namespace oasis {

class LanguageModel : public torch::nn::Module {
 public:
  virtual at::Tensor forward(const at::Tensor& tokens) = 0;
  virtual int64_t vocab_size() const = 0;
  // nullptr detaches; taps cost nothing while detached.
  void attach(TapObserver* observer) { observer_ = observer; }
  void attach_transform(TapTransform* transform) { transform_ = transform; }

 protected:
  Taps root_taps() const { return {observer_, "", transform_}; }
  TapObserver* observer_ = nullptr;
  TapTransform* transform_ = nullptr;
};

}  // namespace oasis
