// What the hand-written CPU kernels (AttnRes routing, Softmax1) need from the build:
// - at::parallel_for is a header template that runs on one thread unless the including file is compiled
//   with OpenMP (LibTorch's backend); a build without the flag fails here instead of running 2x slower.
// - OASIS_CPU_CLONES compiles a function for the baseline x86-64 and again for AVX2 + FMA (x86-64-v3), and
//   the loader picks the best one the machine has (GCC function multi-versioning), as ATen does for its own
//   kernels. The build stays portable: no -march flag; other compilers and architectures get the plain
//   function. Lambdas are not cloned: put the loops in a function with the attribute, called from the lambda.
#pragma once
#include <ATen/Parallel.h>

#if !defined(INTRA_OP_PARALLEL)
#error "framework kernels must be compiled with OpenMP (-fopenmp), or at::parallel_for runs on one thread"
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define OASIS_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define OASIS_CPU_CLONES
#endif
