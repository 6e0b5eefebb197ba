// The two c10d communication backends a run uses, made here so their headers stay in one file: Gloo
// (CPU tensors, any machine) and NCCL (CUDA tensors; CUDA builds only). ProcessGroupGloo.hpp needs Gloo's
// own headers, which the torch wheel does not ship: Debian's libgloo-dev provides them, while the code
// that runs is the Gloo inside libtorch_cpu (the class layout the header describes is LibTorch's own).
#pragma once
#include <chrono>
#include <string>

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

namespace oasis {

c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world_size,
                                                    std::chrono::milliseconds timeout);

// A ConfigError in a build without CUDA.
c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world_size,
                                                    std::chrono::milliseconds timeout);

}  // namespace oasis
