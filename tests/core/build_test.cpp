// The build as LibTorch 2.x from the torch wheel gives it: CUDA compiled in wherever nvcc exists, one OpenMP
// runtime in the process, and `threads` reaching both LibTorch and our kernels.
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "framework/core/build_info.h"
#include "framework/core/runtime.h"
#include "tests/test_util.h"

namespace oasis {
namespace {

bool nvcc_on_this_machine() {
  if (std::getenv("CUDACXX") && std::filesystem::exists(std::getenv("CUDACXX"))) return true;
  return test::run_command("command -v nvcc").exit_code == 0 || std::filesystem::exists("/usr/local/cuda/bin/nvcc");
}

TEST(Build, VersionSaysCudaYesWhereNvccExists) {
  const auto r = test::run_cli("--version");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("LibTorch " TORCH_VERSION), std::string::npos) << r.output;
  if (!nvcc_on_this_machine()) GTEST_SKIP() << "no nvcc here: a CPU-only build is expected\n" << r.output;
  // A CUDA build that quietly fell back to CPU-only would hide CUDA-only compile errors from CI.
  EXPECT_NE(r.output.find("CUDA yes (13."), std::string::npos) << r.output;
  EXPECT_FALSE(build_info().cuda.empty());
}

TEST(Build, OneOpenMPRuntimeSharedByLibTorchAndOurKernels) {
  const auto runtimes = loaded_openmp_runtimes();
  ASSERT_EQ(runtimes.size(), 1u) << "OpenMP runtimes mapped: " << runtimes.size();
  // LibTorch's own runtime, the wheel's torch/lib/libgomp.so.1, not the system's.
  EXPECT_NE(runtimes[0].find("torch/lib/"), std::string::npos) << runtimes[0];
}

TEST(Build, ThreadsReachLibTorchAndOurKernels) {
  const int64_t before = torch::get_num_threads();
  for (int64_t n : {1, 2}) {
    EXPECT_EQ(apply_threads(n), n);
    EXPECT_EQ(kernel_threads(), n) << "at::parallel_for in framework code ran on a different count than " << n;
  }
  apply_threads(before);
}

}  // namespace
}  // namespace oasis
