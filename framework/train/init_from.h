// model.init_from: a run starts from another run's newest checkpoint (an import-hf model, or any trained run)
// instead of a random init, so a pretrained standard model can be retrofitted into any preset. Every tensor
// of the source must have its place, by name and shape, in the new model; the new model's other parameters
// (AttnRes routing queries, which start at zero; OASIS null gates; attention gates) keep their init and train
// at train.new_lr. The architecture and tokenizer keys must agree with the source run's: weights trained
// for one vocabulary or RoPE base mean nothing under another.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "framework/core/config.h"
#include "framework/hf/hf_weights.h"

namespace oasis {

class LanguageModel;

struct PretrainedStart {
  std::string source;            // the run directory
  std::string checkpoint;        // its checkpoint read
  NamedTensors tensors;          // the source's parameters
  std::set<std::string> new_parameters;  // the new model's parameters the source lacks
};

// Checks the source run against `config` and `model` and reads its weights; nullopt-like (empty source)
// when model.init_from is unset.
PretrainedStart read_pretrained_start(const Config& config, LanguageModel& model);

// Copies the source's tensors into `model` (a fresh run's first step).
void apply_pretrained_start(const PretrainedStart& start, LanguageModel& model);

}  // namespace oasis
