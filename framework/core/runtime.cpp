#include "framework/core/runtime.h"

#include <algorithm>
#include <thread>

#include <torch/torch.h>

#include "framework/core/errors.h"

namespace oasis {

int64_t resolve_threads(int64_t requested) {
  return std::max<int64_t>(1, requested > 0 ? requested : int64_t(std::thread::hardware_concurrency()));
}

int64_t apply_threads(int64_t requested) {
  torch::set_num_threads(int(resolve_threads(requested)));
  return torch::get_num_threads();
}

c10::Device resolve_device(const std::string& device) {
  const bool cuda = torch::cuda::is_available();
  if (device == "cpu" || (device == "auto" && !cuda)) return c10::Device(c10::kCPU);
  if (!cuda) throw ConfigError("device: expected a machine with a CUDA GPU for `cuda`, found none (use cpu or auto)");
  return c10::Device(c10::kCUDA, 0);
}

c10::ScalarType resolve_precision(const std::string& precision, const c10::Device& device) {
  if (precision == "bf16" || (precision == "auto" && device.is_cuda())) return c10::kBFloat16;
  return c10::kFloat;
}

const char* precision_name(c10::ScalarType compute_dtype) { return compute_dtype == c10::kBFloat16 ? "bf16" : "fp32"; }

void seed_everything(int64_t seed) { torch::manual_seed(uint64_t(seed)); }

}  // namespace oasis
