// The test binary's entry point: the same BLAS kernel selection as the CLI, then GoogleTest.
#include <gtest/gtest.h>

#include "framework/core/runtime.h"

int main(int argc, char** argv) {
  oasis::ensure_fast_blas_kernels(argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
