#include "framework/dist/backends.h"

#include <cstdlib>

#include <gloo/common/error.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#if OASIS_WITH_CUDA
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "framework/core/errors.h"
#include "framework/dist/process_group.h"

namespace oasis {

c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world_size,
                                                    std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create_default(timeout);
  // As torch.distributed does: GLOO_SOCKET_IFNAME picks the network interface (else the one the host name
  // resolves to).
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface)
    options->devices = {c10d::ProcessGroupGloo::createDeviceForInterface(interface)};
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options);
}

bool is_communication_error(const std::exception& error) {
  return dynamic_cast<const c10::DistError*>(&error) != nullptr || dynamic_cast<const gloo::Exception*>(&error) != nullptr;
}

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world_size,
                                                    std::chrono::milliseconds timeout) {
#if OASIS_WITH_CUDA
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world_size, options);
#else
  (void)store, (void)rank, (void)world_size, (void)timeout;
  throw ConfigError("dist.backend: nccl needs a CUDA build of oasis (this one is CPU-only; see docs/build.md)");
#endif
}

}  // namespace oasis
