// `oasis import-hf` and `oasis export-hf`: Hugging Face checkpoint directories in and out (framework/hf/).
#include <cstdio>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "framework/hf/hf_runs.h"

namespace oasis {

namespace {

struct InOut {
  ParsedArgs parsed;
  std::string out;
};

InOut parse_in_out(const std::vector<std::string>& args, const std::string& command) {
  namespace po = boost::program_options;
  InOut r;
  po::options_description options(command + " options");
  options.add_options()("help,h", "show this help")("out,o", po::value<std::string>(&r.out), "directory to create");
  r.parsed = parse_command(args, command, options);
  return r;
}

}  // namespace

int cmd_import_hf(const std::vector<std::string>& args) {
  const InOut a = parse_in_out(args, "import-hf");
  if (a.parsed.help) {
    std::printf(
        "usage: oasis import-hf DIR --out RUN_DIR [key=value...]\n\n"
        "Reads a Hugging Face checkpoint directory (config.json, model.safetensors or its shards, tokenizer.json;\n"
        "LlamaForCausalLM, Mistral and Qwen2 where they match Llama) into a new run directory: config.yaml with the\n"
        "standard preset, data.tokenizer=hf, data.bos=true, and the weights as checkpoints/step_00000000. `oasis eval\n"
        "RUN_DIR`, statistics, quantization and GSM8K then work on it, and `model.init_from=RUN_DIR` starts any preset\n"
        "from it. A config.json key or tensor the model does not implement is an error naming it; nothing is left\n"
        "behind. Overrides set the run's other keys (data.dataset=ptb eval.splits=[test] ...).\n");
    return 0;
  }
  if (a.parsed.positional.empty() || a.out.empty())
    throw ConfigError("oasis import-hf: expected DIR and --out RUN_DIR (see `oasis import-hf --help`)");
  import_hf(a.parsed.positional[0], a.out,
            std::vector<std::string>(a.parsed.positional.begin() + 1, a.parsed.positional.end()));
  return 0;
}

int cmd_export_hf(const std::vector<std::string>& args) {
  const InOut a = parse_in_out(args, "export-hf");
  if (a.parsed.help) {
    std::printf(
        "usage: oasis export-hf RUN_DIR --out DIR\n\n"
        "Writes the run's newest checkpoint as a Hugging Face directory. Standard-router runs: config.json\n"
        "(LlamaForCausalLM) + model.safetensors (+ the tokenizer files of a data.tokenizer=hf run), which\n"
        "transformers' AutoModelForCausalLM.from_pretrained loads without custom code. AttnRes/OASIS runs:\n"
        "model.safetensors with our tensor names + oasis_config.yaml, which transformers cannot load.\n");
    return 0;
  }
  if (a.parsed.positional.size() != 1 || a.out.empty())
    throw ConfigError("oasis export-hf: expected RUN_DIR and --out DIR (see `oasis export-hf --help`)");
  export_hf(a.parsed.positional[0], a.out);
  return 0;
}

}  // namespace oasis
