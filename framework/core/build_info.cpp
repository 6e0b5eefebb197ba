#include "framework/core/build_info.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <set>

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <omp.h>
#include <torch/cuda.h>
#include <torch/version.h>
#if OASIS_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

#include "framework/kernels/cpu_kernels.h"  // the -fopenmp guard: this file must see at::parallel_for as the kernels do
#include "framework/core/version.h"

namespace oasis {

BuildInfo build_info() {
  BuildInfo info;
  info.code_version = code_version();
  info.libtorch = TORCH_VERSION;
#if OASIS_WITH_CUDA
  info.cuda = fmt::format("{}.{}", CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10);
  info.cuda_devices = int64_t(torch::cuda::device_count());
#endif
  return info;
}

std::vector<std::string> loaded_openmp_runtimes() {
  std::set<std::string> found;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string file = path.substr(path.rfind('/') + 1);
    if (file.starts_with("libgomp") || file.starts_with("libiomp") || file.starts_with("libomp")) found.insert(path);
  }
  return {found.begin(), found.end()};
}

int64_t kernel_threads() {
  std::mutex mutex;
  std::set<int> seen;
  std::atomic<int> barrier{0};
  const int64_t threads = at::get_num_threads();
  // One item per thread, and each waits (bounded) until all have started, so every worker takes one.
  at::parallel_for(0, threads, 1, [&](int64_t, int64_t) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      seen.insert(omp_get_thread_num());
    }
    ++barrier;
    for (int spin = 0; spin < 50'000'000 && barrier.load() < threads; ++spin) {
    }
  });
  return int64_t(seen.size());
}

}  // namespace oasis
