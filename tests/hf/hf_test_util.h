// Helpers of the Hugging Face interoperability tests: tools/hf/hf_reference.py run by the project's Python
// environment (transformers, tokenizers), and the tiny Llama checkpoints it builds, made once per build tree.
#pragma once
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace oasis::test {

// Runs `.venv/bin/python tools/hf/hf_reference.py ARGS`; fails the test (with its output) when it fails.
void run_hf_reference(const std::string& args);

// A seeded tiny LlamaForCausalLM (GQA 4/2 heads, head_dim 24 != d_model / n_heads, untied unless `tied`) with a
// tokenizer.json trained on WikiText-2 train, saved by transformers under the build tree; built on first use.
std::filesystem::path tiny_llama_dir(bool tied);

// transformers' logits (and, with greedy > 0, the greedy continuation of the first prompt) of `prompts`.
nlohmann::json transformers_logits(const std::filesystem::path& dir, const nlohmann::json& prompts, int greedy);

}  // namespace oasis::test
