// What every model in the registry is: token ids [B, T] -> next-token logits [B, T, vocab]. Trainers,
// evaluators and (later) probes and quantizers see models only through this interface.
#pragma once
#include <string>

#include <torch/nn/module.h>

namespace oasis {

class LanguageModel : public torch::nn::Module {
 public:
  virtual at::Tensor forward(const at::Tensor& tokens) = 0;
  virtual int64_t vocab_size() const = 0;
};

}  // namespace oasis
