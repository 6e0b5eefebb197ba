// Data-parallel gradients: c10d's Reducer (the engine of PyTorch's DistributedDataParallel) all-reduces
// the gradients in buckets of dist.bucket_mb, each launched from an autograd hook as soon as its last
// gradient is ready, so communication overlaps the rest of the backward. The parameters are broadcast
// from rank 0 at the start. Only the last micro-batch of a step synchronises (expect_sync before its
// backward); the others accumulate locally, and the all-reduce averages the sums: gradients equal those
// of one process accumulating every rank's micro-batches.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/ordered_dict.h>

namespace c10d {
class Reducer;
}

namespace oasis {

class Distributed;

class GradientSync {
 public:
  // Nothing to do (and no communication) when `group` is a single process.
  GradientSync(const Distributed& group, const torch::OrderedDict<std::string, at::Tensor>& parameters, double bucket_mb);
  ~GradientSync();

  // Call after the forward of the step's last micro-batch, before its backward.
  void expect_sync();

  int64_t buckets() const { return buckets_; }

 private:
  std::unique_ptr<c10d::Reducer> reducer_;
  int64_t buckets_ = 0;
};

}  // namespace oasis
