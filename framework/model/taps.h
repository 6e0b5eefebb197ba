// Named tap points. Components report what they computed -- attention probabilities, log-sum-exp, null
// mass, gate values, routing weights -- as `<layer>.<site>` tensors to an observer when one is attached,
// and skip the work when none is. The model never depends on statistics code: a probe implements
// TapObserver and attaches itself.
#pragma once
#include <string>

#include <ATen/core/Tensor.h>

namespace oasis {

class TapObserver {
 public:
  virtual ~TapObserver() = default;
  virtual void observe(const std::string& site, const at::Tensor& value) = 0;
};

// What a component needs to report: the observer (may be null) and its site prefix ("3.attn").
struct Taps {
  TapObserver* observer = nullptr;
  std::string prefix;

  bool on() const { return observer != nullptr; }
  void emit(const char* name, const at::Tensor& value) const {
    if (observer) observer->observe(prefix + "." + name, value.detach());
  }
  Taps child(const std::string& name) const { return {observer, prefix.empty() ? name : prefix + "." + name}; }
};

}  // namespace oasis
