// The `oasis` command line: subcommands run, report, train, eval, models, bench, inspect, import-hf and export-hf. Exit codes: 0 ok, 1 runtime failure,
// 2 usage or config error. Each subcommand has --help.
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "framework/core/build_info.h"
#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/runtime.h"
#include "framework/core/text.h"
#include "framework/dist/process_group.h"
#include "framework/model/presets.h"
#include "framework/run/pipeline.h"

namespace po = boost::program_options;
using namespace oasis;

namespace {

const char* kUsage =
    "usage: oasis <command> [args]\n"
    "\n"
    "commands:\n"
    "  run EXPERIMENT [key=value...] every cell of a sweep, in parallel or on Slurm (resumes, skips DONE)\n"
    "  report RUNS_DIR [report.k=v]  the paper's tables (outliers/sinks, perplexity, GSM8K) from finished runs\n"
    "  train CONFIG [key=value...]   train a model, evaluate it, write results.json (resumes a killed run)\n"
    "  eval RUN_DIR [key=value...]   evaluate a run's newest checkpoint (overrides e.g. eval.context_len=256)\n"
    "  models                        list the model presets\n"
    "  bench CONFIG [key=value...]   training tokens/s and peak memory per preset, overhead vs standard\n"
    "  inspect FILE.h5 [PATH]        summarise a stats.h5 file (or print one group or dataset of it)\n"
    "  import-hf DIR --out RUN_DIR   a Hugging Face checkpoint (Llama family) as a run directory\n"
    "  export-hf RUN_DIR --out DIR   a run as a Hugging Face checkpoint (transformers loads standard runs)\n"
    "  --version                     code, LibTorch and CUDA versions, GPUs, OpenMP runtime, threads\n"
    "\n"
    "`oasis <command> --help` explains a command; exit codes: 0 ok, 1 runtime failure, 2 usage/config error,\n"
    "3 the run directory is in use by another process.\n";

void print_config_keys() {
  std::printf("config keys (YAML sections or key=value overrides):\n");
  for (const auto& k : config_keys()) std::printf("  %-36s %-12s %s\n", k.key.c_str(), k.default_value.c_str(), k.help.c_str());
}

int cmd_train(const std::vector<std::string>& args) {
  ParsedArgs p = parse_help_only(args, "train");
  if (p.help) {
    std::printf(
        "usage: oasis train CONFIG [key=value...]\n\n"
        "Trains the configured model in runs_dir/experiment/run, resuming from the newest checkpoint when the\n"
        "directory holds one, then reports perplexity on eval.splits into results.json and marks the run DONE.\n"
        "Overrides use dotted keys and YAML values: train.steps=200 model.preset=standard eval.splits=[test]\n\n");
    print_config_keys();
    return 0;
  }
  if (p.positional.empty()) throw ConfigError("oasis train: expected a CONFIG file (see `oasis train --help`)");
  const std::vector<std::string> overrides(p.positional.begin() + 1, p.positional.end());
  train_and_evaluate(load_config(p.positional[0], overrides));
  return 0;
}

int cmd_eval(const std::vector<std::string>& args) {
  ParsedArgs p = parse_help_only(args, "eval");
  if (p.help) {
    std::printf(
        "usage: oasis eval RUN_DIR [key=value...]\n\n"
        "Loads RUN_DIR/config.yaml and the newest complete checkpoint, applies the overrides (e.g.\n"
        "eval.context_len=256 eval.stride=128 eval.splits=[test]) and writes perplexities to RUN_DIR/results.json.\n");
    return 0;
  }
  if (p.positional.empty()) throw ConfigError("oasis eval: expected a RUN_DIR (see `oasis eval --help`)");
  const std::vector<std::string> overrides(p.positional.begin() + 1, p.positional.end());
  evaluate_run(p.positional[0], overrides);
  return 0;
}

int cmd_models(const std::vector<std::string>& args) {
  ParsedArgs p = parse_help_only(args, "models");
  if (p.help) {
    std::printf("usage: oasis models\n\nLists the model presets (set one with model.preset=NAME).\n");
    return 0;
  }
  if (!p.positional.empty()) throw ConfigError("oasis models: takes no arguments");
  size_t width = 0;
  for (const auto& [name, preset] : model_presets().entries()) width = std::max(width, name.size());
  for (const auto& [name, preset] : model_presets().entries())
    std::printf("%-*s  %s\n", int(width), name.c_str(), preset.description.c_str());
  return 0;
}

// What the binary was built with and finds now; a CUDA build says "CUDA yes" even on a machine without a GPU.
int print_version() {
  const BuildInfo info = build_info();
  std::printf("oasis %s\n", info.code_version.c_str());
  std::printf("LibTorch %s\n", info.libtorch.c_str());
  if (info.cuda.empty())
    std::printf("CUDA no (CPU-only build)\n");
  else
    std::printf("CUDA yes (%s), %lld device(s)\n", info.cuda.c_str(), (long long)info.cuda_devices);
  const auto runtimes = loaded_openmp_runtimes();
  std::printf("OpenMP runtime %s%s\n", runtimes.empty() ? "none" : join(runtimes, ", ").c_str(),
              runtimes.size() > 1 ? " (more than one: kernels and LibTorch use different thread pools)" : "");
  const int64_t threads = apply_threads(0);
  std::printf("threads %lld (LibTorch), %lld (framework kernels)\n", (long long)threads, (long long)kernel_threads());
  return 0;
}

// Prints an error as "error: ..." ("error (rank 1 of 2): ..." in a multi-process run, whose other ranks
// also find the message in the store) and returns `code`.
int report_error(const char* kind, const std::string& message, int code) {
  std::fflush(stdout);
  const Distributed& dist = distributed();
  if (dist.active()) dist.report_failure(message);
  const std::string where = dist.active() ? fmt::format(" (rank {} of {})", dist.rank(), dist.world_size()) : "";
  std::fprintf(stderr, "%s%s: %s\n", kind, where.c_str(), message.c_str());
  return code;
}

int run_command(const std::map<std::string, int (*)(const std::vector<std::string>&)>& commands,
                const std::string& command, const std::vector<std::string>& args) {
  try {
    auto it = commands.find(command);
    if (it == commands.end()) {
      std::vector<std::string> names;
      for (const auto& [name, fn] : commands) names.push_back(name);
      throw ConfigError(fmt::format("unknown command '{}'{}; commands: {}", command, did_you_mean(command, names),
                                    join(names, ", ")));
    }
    return it->second(args);
  } catch (const ConfigError& e) {
    return report_error("error", e.what(), 2);
  } catch (const RunInUse& e) {
    return report_error("busy", e.what(), 3);
  } catch (const RuntimeError& e) {
    return report_error("error", e.what(), 1);
  } catch (const c10::Error& e) {
    return report_error("error (torch)", e.what_without_backtrace(), 1);
  } catch (const std::exception& e) {
    return report_error("error", e.what(), 1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::map<std::string, int (*)(const std::vector<std::string>&)> commands = {
      {"train", cmd_train}, {"eval", cmd_eval}, {"models", cmd_models}, {"bench", cmd_bench},
      {"inspect", cmd_inspect}, {"run", cmd_run}, {"report", cmd_report}, {"import-hf", cmd_import_hf},
      {"export-hf", cmd_export_hf}};
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = argv[1];
  if (command == "--version") return print_version();
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const int code = run_command(commands, command, std::vector<std::string>(argv + 2, argv + argc));
  leave_distributed(code != 0);
  return code;
}
