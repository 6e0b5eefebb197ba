// What this binary was built against and what it finds at run time: `oasis --version`, the settings table
// and results.json report it, so a number says which LibTorch, CUDA and OpenMP runtime produced it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace oasis {

struct BuildInfo {
  std::string code_version;  // git sha (+ "-dirty")
  std::string libtorch;      // LibTorch's version, e.g. "2.11.0"
  std::string cuda;          // CUDA runtime version compiled in ("13.0"), empty for a CPU-only build
  int64_t cuda_devices = 0;  // GPUs visible now (0 without a GPU or a driver)
};

BuildInfo build_info();

// Each OpenMP runtime library mapped into this process (from /proc/self/maps). One is right: LibTorch's
// thread pool and our kernels must share it, or torch::set_num_threads does not reach our kernels.
std::vector<std::string> loaded_openmp_runtimes();

// The number of threads an at::parallel_for in framework code runs on now (compiled with -fopenmp like the
// kernels): it must equal torch::get_num_threads().
int64_t kernel_threads();

}  // namespace oasis
