// `oasis bench`: training tokens/s and peak memory per preset at one configured size, each preset's
// step-time overhead relative to `standard`, and evaluation tokens/s per quantization scheme. Shared machines are noisy (seen: 35% between identical
// runs), so step times come from one process that steps every preset's model in turn (a slow phase
// hits all presets alike) and each preset's median step counts. Peak resident memory comes from a
// child process per preset (this binary with --only), whose ru_maxrss is its own.
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>

#include "experiments/cli_args.h"
#include "experiments/commands.h"
#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/log.h"
#include "framework/core/paths.h"
#include "framework/core/process.h"
#include "framework/core/runtime.h"
#include "framework/core/text.h"
#include "framework/model/presets.h"
#include "framework/quant/scheme.h"
#include "framework/run/bench.h"

namespace po = boost::program_options;

namespace oasis {
namespace {

const char* kResultTag = "OASIS_BENCH_RESULT ";

struct ChildRun {
  nlohmann::json result;
  double peak_rss_mb = 0;
};

// Runs this binary with `args` (argv[0] "oasis"); returns its tagged JSON line and peak RSS.
ChildRun run_child(std::vector<std::string> args) {
  const std::string command = join(args, " ");
  args[0] = "/proc/self/exe";
  const ProcessResult p = run_process(args, false);
  const auto at = p.output.rfind(kResultTag);
  if (p.exit_code != 0 || at == std::string::npos)
    throw RuntimeError(fmt::format("bench: `{}` failed (exit {}):\n{}", command, p.exit_code,
                                   p.output.substr(p.output.size() > 2000 ? p.output.size() - 2000 : 0)));
  return {nlohmann::json::parse(p.output.substr(at + std::string(kResultTag).size())), p.peak_rss_mb};
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int cmd_bench(const std::vector<std::string>& args) {
  po::options_description options("bench options");
  std::string presets_text, only, out_file, profile_dir, schemes_text;
  int64_t steps = 10, warmup = 3, decode_tokens = 256, decode_batch = 1;
  double peak_tflops = 0;
  options.add_options()("help,h", "show this help")(
      "presets", po::value(&presets_text)->default_value("standard,attnres,attnres-clipped,attnres-gated,attnres-softmax1,oasis"),
      "comma-separated presets to measure")("steps", po::value(&steps)->default_value(10), "timed steps per preset")(
      "warmup", po::value(&warmup)->default_value(3), "untimed steps first")("out", po::value(&out_file),
                                                                             "also write the results as JSON")(
      "eval-schemes", po::value(&schemes_text)->default_value("fp,w8a8,w4a4"),
      "quantization schemes whose evaluation tokens/s are measured per preset (empty: none)")(
      "decode-tokens", po::value(&decode_tokens)->default_value(256),
      "greedy decoding speed with and without the KV cache at this many new tokens (0: skip)")(
      "decode-batch", po::value(&decode_batch)->default_value(1), "sequences decoded together")(
      "peak-tflops", po::value(&peak_tflops)->default_value(0),
      "the device's declared peak TFLOP/s at the run's precision, for the MFU column (e.g. 989 for an H200 in "
      "dense bf16; 0: no MFU)")(
      "profile", po::value(&profile_dir),
      "after timing, trace one more step per preset into DIR/PRESET.trace.json (Chrome trace: chrome://tracing or "
      "ui.perfetto.dev)")("only", po::value(&only), "(internal) measure one preset and print its result");
  const ParsedArgs parsed = parse_command(args, "bench", options);
  if (parsed.help) {
    print_help(
        "usage: oasis bench CONFIG [key=value...] [--presets a,b,...] [--steps N] [--warmup N] [--out FILE]\n"
        "                   [--eval-schemes fp,w8a8,...] [--decode-tokens N] [--decode-batch B] [--profile DIR]\n"
        "                   [--peak-tflops P]\n\n"
        "Measures training throughput (median step time -> tokens/s, model TFLOP/s and, given the device's peak,\n"
        "MFU) and peak resident memory of each preset at the size CONFIG gives, each in its own process, and\n"
        "prints the overhead of each against `standard`. Model FLOPs per token: 6 per matmul weight (LM head\n"
        "included) + 12 L d T (attention), the same for every preset (framework/run/bench.h).\n\n",
        options);
    return 0;
  }
  const auto& positional_args = parsed.positional;
  if (positional_args.empty()) throw ConfigError("oasis bench: expected a CONFIG file (see `oasis bench --help`)");
  if (steps < 1 || warmup < 0) throw ConfigError("oasis bench: --steps must be >= 1 and --warmup >= 0");
  if (peak_tflops < 0) throw ConfigError("oasis bench: --peak-tflops must be >= 0");
  if (decode_tokens < 0 || decode_batch < 1)
    throw ConfigError("oasis bench: --decode-tokens must be >= 0 and --decode-batch >= 1");
  const std::string config_file = positional_args[0];
  std::vector<std::string> overrides(positional_args.begin() + 1, positional_args.end());

  auto preset_config = [&](const std::string& preset) {
    auto with_preset = overrides;
    with_preset.push_back("model.preset=" + preset);
    return load_config(config_file, with_preset);
  };
  if (!only.empty()) {  // child: one preset, for its peak memory
    SpeedTrial trial(preset_config(only));
    for (int64_t i = 0; i < 2; ++i) trial.step_ms();
    std::printf("%s%s\n", kResultTag, nlohmann::json{{"parameters", trial.parameters()}}.dump().c_str());
    return 0;
  }

  const std::vector<std::string> presets = split_commas(presets_text);
  for (const auto& p : presets) model_presets().get(p);  // unknown names fail before any work
  const Config config = load_config(config_file, overrides);
  std::map<std::string, ChildRun> runs;
  for (const auto& preset : presets) {
    std::vector<std::string> child = {"oasis", "bench", config_file};
    child.insert(child.end(), overrides.begin(), overrides.end());
    child.insert(child.end(), {"--only", preset});
    runs[preset] = run_child(child);
  }
  std::vector<std::unique_ptr<SpeedTrial>> trials;
  for (const auto& preset : presets) trials.push_back(std::make_unique<SpeedTrial>(preset_config(preset)));
  log_line(fmt::format("bench: {} | d_model {} | layers {} | heads {} | seq {} | batch {} x {} | {} {} | attention {} | "
                       "threads {} | {} warm-up + {} timed steps per preset, interleaved",
                       config_file, config.model.d_model, config.model.n_layers, config.model.n_heads, config.data.seq_len,
                       config.train.batch_size, config.train.grad_accum, trials.front()->device_name(),
                       precision_name(trials.front()->compute().dtype), trials.front()->compute().attention_kernel(),
                       config.threads, warmup, steps));
  std::vector<std::vector<double>> times(presets.size());
  for (int64_t step = 0; step < warmup + steps; ++step)
    for (size_t i = 0; i < presets.size(); ++i) {
      const double ms = trials[i]->step_ms();
      if (step >= warmup) times[i].push_back(ms);
    }
  // Evaluation throughput per preset and scheme, interleaved the same way.
  std::vector<QuantScheme> schemes;
  for (const auto& name : split_commas(schemes_text)) schemes.push_back(load_quant_scheme(name));
  std::vector<std::vector<std::vector<double>>> eval_times(presets.size(), std::vector<std::vector<double>>(schemes.size()));
  for (int64_t step = 0; step < warmup + steps && !schemes.empty(); ++step)
    for (size_t i = 0; i < presets.size(); ++i)
      for (size_t k = 0; k < schemes.size(); ++k) {
        const double ms = trials[i]->eval_ms(schemes[k]);
        if (step >= warmup) eval_times[i][k].push_back(ms);
      }
  // Decoding: one untimed short run (allocations), then one timed run each way.
  std::vector<std::pair<double, double>> decode_rates(presets.size());  // (cached, recomputed) tokens/s
  for (size_t i = 0; i < presets.size() && decode_tokens > 0; ++i) {
    trials[i]->decode_tokens_per_s(8, decode_batch, true);
    decode_rates[i] = {trials[i]->decode_tokens_per_s(decode_tokens, decode_batch, true),
                       trials[i]->decode_tokens_per_s(decode_tokens, decode_batch, false)};
  }
  if (!profile_dir.empty()) {
    std::filesystem::create_directories(profile_dir);
    for (size_t i = 0; i < presets.size(); ++i) {
      const std::string trace = (std::filesystem::path(profile_dir) / (presets[i] + ".trace.json")).string();
      {
        torch::autograd::profiler::RecordProfile recording(trace);
        trials[i]->step_ms();
      }
      log_line("bench: profile of one " + presets[i] + " step -> " + trace);
    }
  }
  for (size_t i = 0; i < presets.size(); ++i) {
    auto& r = runs[presets[i]].result;
    r["median_step_ms"] = median(times[i]);
    r["tokens_per_s"] = double(trials[i]->tokens_per_step()) / (median(times[i]) / 1000.0);
    r["step_ms"] = times[i];
    r["flops_per_token"] = trials[i]->flops_per_token();
    r["tflops"] = trials[i]->flops_per_token() * r["tokens_per_s"].get<double>() / 1e12;
    r["device"] = trials[i]->device_name();
    r["precision"] = precision_name(trials[i]->compute().dtype);
    r["attention_kernel"] = trials[i]->compute().attention_kernel();
    if (peak_tflops > 0) r["mfu"] = r["tflops"].get<double>() / peak_tflops;
  }
  const double base_ms = runs.count("standard") ? runs["standard"].result["median_step_ms"].get<double>() : 0;
  std::vector<std::vector<std::string>> table;
  nlohmann::json out = nlohmann::json::array();
  for (const auto& preset : presets) {
    const auto& r = runs[preset];
    const double ms = r.result["median_step_ms"].get<double>();
    const std::string overhead = base_ms > 0 ? fmt::format("{:+.1f}%", 100.0 * (ms / base_ms - 1.0)) : "n/a";
    const double tflops = r.result["tflops"].get<double>();
    table.push_back({preset, std::to_string(r.result["parameters"].get<int64_t>()), fmt::format("{:.1f}", ms),
                     fmt::format("{:.0f}", r.result["tokens_per_s"].get<double>()),
                     tflops >= 1 ? fmt::format("{:.1f}", tflops) : fmt::format("{:.4f}", tflops),
                     peak_tflops > 0 ? fmt::format("{:.1f}%", 100.0 * tflops / peak_tflops) : "n/a", overhead,
                     fmt::format("{:.0f}", r.peak_rss_mb)});
    auto row = r.result;
    row["preset"] = preset;
    row["peak_rss_mb"] = r.peak_rss_mb;
    if (base_ms > 0) row["overhead_vs_standard"] = ms / base_ms - 1.0;
    out.push_back(row);
  }
  log_line(markdown_table(
      {"preset", "parameters", "step ms (median)", "tokens/s", "model TFLOP/s", "MFU", "overhead vs standard",
       "peak RSS MB"},
      table));
  if (peak_tflops > 0) log_line(fmt::format("bench: MFU against a declared peak of {} TFLOP/s", peak_tflops));
  if (!schemes.empty()) {
    std::vector<std::vector<std::string>> eval_table;
    for (size_t i = 0; i < presets.size(); ++i) {
      nlohmann::json& row = out[i];
      const double fp_ms = median(eval_times[i][0]);
      for (size_t k = 0; k < schemes.size(); ++k) {
        const double ms = median(eval_times[i][k]);
        const double tokens_per_s = double(trials[i]->tokens_per_step()) / (ms / 1000.0);
        row["eval"][schemes[k].name] = {{"median_ms", ms}, {"tokens_per_s", tokens_per_s}};
        eval_table.push_back({presets[i], schemes[k].name, fmt::format("{:.1f}", ms), fmt::format("{:.0f}", tokens_per_s),
                              fmt::format("{:+.1f}%", 100.0 * (ms / fp_ms - 1.0))});
      }
    }
    log_line(markdown_table({"preset", "scheme", "eval forward ms (median)", "eval tokens/s", "time vs " + schemes[0].name},
                            eval_table));
  }
  if (decode_tokens > 0) {
    std::vector<std::vector<std::string>> decode_table;
    for (size_t i = 0; i < presets.size(); ++i) {
      const auto [cached, recomputed] = decode_rates[i];
      out[i]["decode"] = {{"new_tokens", decode_tokens}, {"batch", decode_batch}, {"prompt_tokens", 32},
                          {"cached_tokens_per_s", cached}, {"recomputed_tokens_per_s", recomputed}};
      decode_table.push_back({presets[i], fmt::format("{:.0f}", cached), fmt::format("{:.0f}", recomputed),
                              fmt::format("{:.1f}x", cached / recomputed)});
    }
    log_line(markdown_table({"preset", fmt::format("decode tok/s, KV cache ({} new, batch {})", decode_tokens, decode_batch),
                             "decode tok/s, recomputed", "speed-up"},
                            decode_table));
  }
  if (!out_file.empty()) write_file_atomic(out_file, out.dump(2) + "\n");
  return 0;
}

}  // namespace oasis
