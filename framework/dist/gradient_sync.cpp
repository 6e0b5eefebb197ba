#include "framework/dist/gradient_sync.h"

#include <algorithm>

#include <torch/csrc/distributed/c10d/reducer.hpp>
#include <torch/torch.h>

#include "framework/dist/process_group.h"

namespace oasis {

GradientSync::GradientSync(const Distributed& group, const torch::OrderedDict<std::string, at::Tensor>& parameters,
                           double bucket_mb) {
  if (!group.active()) return;
  std::vector<at::Tensor> trained;
  std::unordered_map<size_t, std::string> names;  // for the Reducer's errors
  for (const auto& p : parameters)
    if (p.value().requires_grad()) {
      names[trained.size()] = p.key();
      trained.push_back(p.value());
    }
  group.broadcast_from_main(trained);
  const auto bucket_bytes = size_t(bucket_mb * double(1 << 20));
  // A small first bucket (as PyTorch's DDP: 1 MiB) starts communication early in the backward.
  const size_t first_bucket_bytes = std::min<size_t>(bucket_bytes, size_t(1) << 20);
  const std::vector<bool> sparse(trained.size(), false);
  auto buckets = std::get<0>(c10d::compute_bucket_assignment_by_size(trained, {first_bucket_bytes, bucket_bytes},
                                                                       sparse, {}, std::nullopt));
  // Gradients arrive roughly from the last layer to the first: the buckets are reduced in that order.
  std::reverse(buckets.begin(), buckets.end());
  buckets_ = int64_t(buckets.size());
  // Every parameter gets a gradient in every step (the presets use all of theirs; tests/dist checks
  // each), so the Reducer needs no graph traversal per step. A model that left one unused would fail at
  // its second step with the Reducer's error, naming the parameter.
  reducer_ = std::make_unique<c10d::Reducer>(trained, std::move(buckets), group.group(), sparse, int64_t(bucket_bytes),
                                             /*find_unused_parameters=*/false, /*gradient_as_bucket_view=*/false,
                                             std::move(names), int64_t(first_bucket_bytes),
                                             /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false,
                                             std::vector<int64_t>{});
}

GradientSync::~GradientSync() = default;

void GradientSync::expect_sync() {
  if (!reducer_) return;
  // After the first synchronised backward the buckets are rebuilt once in the order the gradients
  // arrived (as PyTorch's DDP does); a collective, at the same point on every rank.
  reducer_->rebuild_buckets();
  reducer_->prepare_for_backward({});
}

}  // namespace oasis
