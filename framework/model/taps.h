// Named tap points. Components report what they computed -- attention probabilities, log-sum-exp, null
// mass, gate values, routing weights -- as `<layer>.<site>` tensors to an observer when one is attached,
// and skip the work when none is. The model never depends on statistics code: a probe implements
// TapObserver and attaches itself. At the sites that feed a computation onward (every Linear's input,
// the routed inputs, block sums, attention probabilities) a TapTransform may also replace the tensor:
// that is how fake quantization wraps a trained model without model code knowing about it.
#pragma once
#include <string>

#include <ATen/core/Tensor.h>

namespace oasis {

class TapObserver {
 public:
  virtual ~TapObserver() = default;
  virtual void observe(const std::string& site, const at::Tensor& value) = 0;
};

class TapTransform {
 public:
  virtual ~TapTransform() = default;
  virtual at::Tensor transform(const std::string& site, const at::Tensor& value) = 0;
};

// What a component needs to report: the observer and transform (either may be null) and its site prefix
// ("3.attn").
struct Taps {
  TapObserver* observer = nullptr;
  std::string prefix;
  TapTransform* transformer = nullptr;

  bool on() const { return observer != nullptr; }
  // An observer or a transform may want every site (attention weights included).
  bool attached() const { return observer != nullptr || transformer != nullptr; }
  std::string name_of(const char* name) const { return prefix.empty() ? name : prefix + "." + name; }
  void emit(const char* name, const at::Tensor& value) const {
    if (observer) observer->observe(name_of(name), value.detach());
  }
  // Emits the value (as the transform will see it), then returns it transformed.
  at::Tensor site(const char* name, const at::Tensor& value) const {
    emit(name, value);
    return transformer ? transformer->transform(name_of(name), value) : value;
  }
  Taps child(const std::string& name) const { return {observer, name_of(name.c_str()), transformer}; }
};

}  // namespace oasis
