#include "framework/stats/collect.h"

#include <torch/torch.h>

#include "framework/model/language_model.h"
#include "framework/stats/probe.h"

namespace oasis {

SchemeStats collect_statistics(LanguageModel& model, const at::Tensor& windows, const StatsConfig& o,
                               const std::string& scheme) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto device = model.parameters().front().device();
  StatsProbe probe(o.sites, o.map_sequences, o.sink_eps);
  model.attach(&probe);
  try {
    for (int64_t first = 0; first < windows.size(0); first += o.batch_size) {
      const int64_t count = std::min(o.batch_size, windows.size(0) - first);
      probe.begin_batch(first, count);
      model.forward(windows.slice(0, first, first + count).to(device));
    }
  } catch (...) {
    model.attach(nullptr);
    throw;
  }
  model.attach(nullptr);
  if (was_training) model.train();
  probe.stats().scheme = scheme;
  return std::move(probe.stats());
}

}  // namespace oasis
