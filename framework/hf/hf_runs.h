// `oasis import-hf` and `oasis export-hf`: a Hugging Face checkpoint directory (config.json, *.safetensors,
// tokenizer.json) becomes a run directory that eval, train (fine-tuning), statistics, quantization and GSM8K
// accept like a trained run (config.yaml + checkpoints/step_00000000), and a standard-router run becomes a
// directory transformers' AutoModelForCausalLM loads. Both build everything in a temporary folder and
// rename it into place at the end: an error at any point leaves nothing that looks complete.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace oasis {

// `overrides` (key=value) adjust the imported run's config: dataset, eval.*, stats.*, quant.*, ...
void import_hf(const std::filesystem::path& source, const std::filesystem::path& run_dir,
               const std::vector<std::string>& overrides);

void export_hf(const std::filesystem::path& run_dir, const std::filesystem::path& out_dir);

}  // namespace oasis
