// Hugging Face config.json <-> our ModelConfig, for the Llama family (LlamaForCausalLM; Mistral and Qwen2 where
// their config says what Llama's would). Every key of config.json is either mapped, checked to hold the value
// our model implies (hidden_act silu, no biases, no rope scaling, ...), or known to be informational; any
// other key or value is an error naming it, so a checkpoint is never loaded into a model that computes
// something else.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "framework/core/config.h"

namespace oasis {

struct HfModelConfig {
  ModelConfig model;  // preset standard
  int64_t vocab_size = 0;
  std::optional<int64_t> bos_token_id, eos_token_id;
  std::string architecture;
  std::string note;  // what was adapted (a sliding window wider than every sequence, ...), or ""
};

HfModelConfig read_hf_config(const std::filesystem::path& config_json);

// config.json of a standard-router model that transformers' LlamaForCausalLM loads.
nlohmann::json llama_config_json(const ModelConfig& model, int64_t vocab_size, std::optional<int64_t> bos_token_id,
                                 std::optional<int64_t> eos_token_id);

}  // namespace oasis
