// `oasis bench`: training tokens/s and peak memory per preset at one configured size, each preset's
// step-time overhead relative to `standard`, evaluation tokens/s per quantization scheme and decoding speed.
// Shared machines are noisy (seen: 35% between identical runs), so step times come from one process that
// steps every preset's model in turn (a slow phase hits all presets alike) and each preset's median step
// counts. Peak resident memory comes from a child process per preset (this binary with --only), whose
// ru_maxrss is its own. Three steps: parse the command line, run the measurements into one JSON record per
// preset (what --out writes), render the tables from those records.
#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>

#include "cli/bench_child.h"
#include "cli/bench_scaling.h"
#include "cli/cli_args.h"
#include "cli/commands.h"
#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/log.h"
#include "framework/core/paths.h"
#include "framework/core/runtime.h"
#include "framework/core/text.h"
#include "framework/model/presets.h"
#include "framework/quant/scheme.h"
#include "framework/run/bench.h"

namespace po = boost::program_options;

namespace oasis {
namespace {

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}


struct BenchOptions {
  std::string config_file;
  std::vector<std::string> overrides, presets, scheme_names;
  std::string only, out_file, profile_dir;
  int64_t steps = 10, warmup = 3, decode_tokens = 256, decode_batch = 1;
  double peak_tflops = 0;
  bool forward_only = false;  // evaluation forward passes only: no training steps, no child process
  std::vector<int64_t> ranks;  // --ranks: data-parallel scaling instead (cli/bench_scaling.h)
  int64_t repeats = 3;
  bool rank_child = false;
};

// The options, or nothing when --help was asked for (and printed).
std::optional<BenchOptions> parse_bench(const std::vector<std::string>& args) {
  po::options_description options("bench options");
  BenchOptions o;
  std::string presets_text, schemes_text, ranks_text;
  options.add_options()("help,h", "show this help")(
      "presets", po::value(&presets_text)->default_value("standard,attnres,attnres-clipped,attnres-gated,attnres-softmax1,oasis"),
      "comma-separated presets to measure")("steps", po::value(&o.steps)->default_value(10), "timed steps per preset")(
      "warmup", po::value(&o.warmup)->default_value(3), "untimed steps first")("out", po::value(&o.out_file),
                                                                               "also write the results as JSON")(
      "eval-schemes", po::value(&schemes_text)->default_value("fp,w8a8,w4a4"),
      "quantization schemes whose evaluation tokens/s are measured per preset (empty: none)")(
      "decode-tokens", po::value(&o.decode_tokens)->default_value(256),
      "greedy decoding speed with and without the KV cache at this many new tokens (0: skip)")(
      "decode-batch", po::value(&o.decode_batch)->default_value(1), "sequences decoded together")(
      "peak-tflops", po::value(&o.peak_tflops)->default_value(0),
      "the device's declared peak TFLOP/s at the run's precision, for the MFU column (e.g. 989 for an H200 in "
      "dense bf16; 0: no MFU)")(
      "profile", po::value(&o.profile_dir),
      "after timing, trace one more step per preset into DIR/PRESET.trace.json (Chrome trace: chrome://tracing or "
      "ui.perfetto.dev)")(
      "forward-only", po::bool_switch(&o.forward_only),
      "time only the evaluation forward passes of --eval-schemes (no training steps and no child process: measure "
      "peak memory from outside, e.g. /usr/bin/time -v)")(
      "ranks", po::value(&ranks_text),
      "data-parallel scaling instead: training tokens/s, per rank and scaling efficiency at each rank count, e.g. "
      "1,2 (ranks started with torchrun; on the CPU the threads are split between them)")(
      "repeats", po::value(&o.repeats)->default_value(3), "with --ranks: interleaved rounds of launches")(
      "rank-child", po::bool_switch(&o.rank_child), "(internal) one launched rank of --ranks")(
      "only", po::value(&o.only), "(internal) measure one preset and print its result");
  const ParsedArgs parsed = parse_command(args, "bench", options);
  if (parsed.help) {
    print_help(
        "usage: oasis bench CONFIG [key=value...] [--presets a,b,...] [--steps N] [--warmup N] [--out FILE]\n"
        "                   [--eval-schemes fp,w8a8,...] [--decode-tokens N] [--decode-batch B] [--profile DIR]\n"
        "                   [--forward-only] [--ranks 1,2 [--repeats R]]\n"
        "                   [--peak-tflops P]\n\n"
        "Measures training throughput (median step time -> tokens/s, model TFLOP/s and, given the device's peak,\n"
        "MFU) and peak resident memory of each preset at the size CONFIG gives, each in its own process, and\n"
        "prints the overhead of each against `standard`. Model FLOPs per token: 6 per matmul weight (LM head\n"
        "included) + 12 L d T (attention), the same for every preset (framework/run/bench.h).\n\n",
        options);
    return std::nullopt;
  }
  if (parsed.positional.empty()) throw ConfigError("oasis bench: expected a CONFIG file (see `oasis bench --help`)");
  if (o.steps < 1 || o.warmup < 0) throw ConfigError("oasis bench: --steps must be >= 1 and --warmup >= 0");
  if (o.peak_tflops < 0) throw ConfigError("oasis bench: --peak-tflops must be >= 0");
  if (o.decode_tokens < 0 || o.decode_batch < 1)
    throw ConfigError("oasis bench: --decode-tokens must be >= 0 and --decode-batch >= 1");
  o.config_file = parsed.positional[0];
  o.overrides.assign(parsed.positional.begin() + 1, parsed.positional.end());
  o.presets = split_commas(presets_text);
  o.scheme_names = split_commas(schemes_text);
  for (const auto& count : split_commas(ranks_text)) {
    char* end = nullptr;
    o.ranks.push_back(std::strtoll(count.c_str(), &end, 10));
    if (*end != '\0' || o.ranks.back() < 1) throw ConfigError("oasis bench: --ranks expects counts like 1,2, got " + ranks_text);
  }
  if (o.repeats < 1) throw ConfigError("oasis bench: --repeats must be >= 1");
  if (o.forward_only && o.scheme_names.empty())
    throw ConfigError("oasis bench: --forward-only times the --eval-schemes, which is empty");
  for (const auto& p : o.presets) model_presets().get(p);  // unknown names fail before any work
  return o;
}

Config preset_config(const BenchOptions& o, const std::string& preset) {
  auto with_preset = o.overrides;
  with_preset.push_back("model.preset=" + preset);
  return load_config(o.config_file, with_preset);
}

// Every measurement, one JSON record per preset in the order of --presets.
nlohmann::json run_bench(const BenchOptions& o) {
  const auto& presets = o.presets;
  const Config config = load_config(o.config_file, o.overrides);
  std::map<std::string, BenchChild> runs;
  for (const auto& preset : presets) {
    if (o.forward_only) break;
    std::vector<std::string> child = {"/proc/self/exe", "bench", o.config_file};
    child.insert(child.end(), o.overrides.begin(), o.overrides.end());
    child.insert(child.end(), {"--only", preset});
    runs[preset] = run_bench_child(child, false);
  }
  std::vector<std::unique_ptr<SpeedTrial>> trials;
  for (const auto& preset : presets) trials.push_back(std::make_unique<SpeedTrial>(preset_config(o, preset)));
  log_line(fmt::format("bench: {} | d_model {} | layers {} | heads {} | seq {} | batch {} x {} | {} {} | attention {} | "
                       "threads {} | {} warm-up + {} timed steps per preset, interleaved",
                       o.config_file, config.model.d_model, config.model.n_layers, config.model.n_heads, config.data.seq_len,
                       config.train.batch_size, config.train.grad_accum, trials.front()->device_name(),
                       precision_name(trials.front()->compute().dtype), trials.front()->compute().attention_kernel(),
                       config.threads, o.warmup, o.steps));
  std::vector<std::vector<double>> times(presets.size());
  for (int64_t step = 0; step < o.warmup + o.steps && !o.forward_only; ++step)
    for (size_t i = 0; i < presets.size(); ++i) {
      const double ms = trials[i]->step_ms();
      if (step >= o.warmup) times[i].push_back(ms);
    }
  // Evaluation throughput per preset and scheme, interleaved the same way.
  std::vector<QuantScheme> schemes;
  for (const auto& name : o.scheme_names) schemes.push_back(load_quant_scheme(name));
  std::vector<std::vector<std::vector<double>>> eval_times(presets.size(), std::vector<std::vector<double>>(schemes.size()));
  for (int64_t step = 0; step < o.warmup + o.steps && !schemes.empty(); ++step)
    for (size_t i = 0; i < presets.size(); ++i)
      for (size_t k = 0; k < schemes.size(); ++k) {
        const double ms = trials[i]->eval_ms(schemes[k]);
        if (step >= o.warmup) eval_times[i][k].push_back(ms);
      }
  // Decoding: one untimed short run (allocations), then one timed run each way.
  std::vector<std::pair<double, double>> decode_rates(presets.size());  // (cached, recomputed) tokens/s
  for (size_t i = 0; i < presets.size() && o.decode_tokens > 0; ++i) {
    trials[i]->decode_tokens_per_s(8, o.decode_batch, true);
    decode_rates[i] = {trials[i]->decode_tokens_per_s(o.decode_tokens, o.decode_batch, true),
                       trials[i]->decode_tokens_per_s(o.decode_tokens, o.decode_batch, false)};
  }
  if (!o.profile_dir.empty()) {
    std::filesystem::create_directories(o.profile_dir);
    for (size_t i = 0; i < presets.size(); ++i) {
      const std::string trace = (std::filesystem::path(o.profile_dir) / (presets[i] + ".trace.json")).string();
      {
        torch::autograd::profiler::RecordProfile recording(trace);
        trials[i]->step_ms();
      }
      log_line("bench: profile of one " + presets[i] + " step -> " + trace);
    }
  }
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < presets.size(); ++i) {
    const SpeedTrial& t = *trials[i];
    nlohmann::json r = o.forward_only ? nlohmann::json{{"parameters", t.parameters()}} : runs[presets[i]].result;
    r["preset"] = presets[i];
    r["device"] = t.device_name();
    r["precision"] = precision_name(t.compute().dtype);
    r["attention_kernel"] = t.compute().attention_kernel();
    if (!o.forward_only) {
      r["peak_rss_mb"] = runs[presets[i]].peak_rss_mb;
      r["median_step_ms"] = median(times[i]);
      r["tokens_per_s"] = double(t.tokens_per_step()) / (median(times[i]) / 1000.0);
      r["step_ms"] = times[i];
      r["flops_per_token"] = t.flops_per_token();
      r["tflops"] = t.flops_per_token() * r["tokens_per_s"].get<double>() / 1e12;
      if (o.peak_tflops > 0) r["mfu"] = r["tflops"].get<double>() / o.peak_tflops;
    }
    for (size_t k = 0; k < schemes.size(); ++k) {
      const double ms = median(eval_times[i][k]);
      r["eval"][schemes[k].name] = {{"median_ms", ms}, {"tokens_per_s", double(t.tokens_per_step()) / (ms / 1000.0)},
                                    {"ms", eval_times[i][k]}};
    }
    if (o.decode_tokens > 0)
      r["decode"] = {{"new_tokens", o.decode_tokens}, {"batch", o.decode_batch}, {"prompt_tokens", 32},
                     {"cached_tokens_per_s", decode_rates[i].first}, {"recomputed_tokens_per_s", decode_rates[i].second}};
    out.push_back(r);
  }
  const auto standard = std::find(presets.begin(), presets.end(), "standard");
  if (standard != presets.end() && !o.forward_only) {
    const double base_ms = out[size_t(standard - presets.begin())]["median_step_ms"].get<double>();
    for (auto& r : out) r["overhead_vs_standard"] = r["median_step_ms"].get<double>() / base_ms - 1.0;
  }
  return out;
}

// The training, evaluation and decoding tables of run_bench's records.
void render_bench(const BenchOptions& o, const nlohmann::json& records) {
  std::vector<std::vector<std::string>> table;
  for (const auto& r : records) {
    if (o.forward_only) break;
    const double tflops = r["tflops"].get<double>();
    table.push_back({r["preset"].get<std::string>(), std::to_string(r["parameters"].get<int64_t>()),
                     fmt::format("{:.1f}", r["median_step_ms"].get<double>()),
                     fmt::format("{:.0f}", r["tokens_per_s"].get<double>()),
                     tflops >= 1 ? fmt::format("{:.1f}", tflops) : fmt::format("{:.4f}", tflops),
                     r.contains("mfu") ? fmt::format("{:.1f}%", 100.0 * r["mfu"].get<double>()) : "n/a",
                     r.contains("overhead_vs_standard")
                         ? fmt::format("{:+.1f}%", 100.0 * r["overhead_vs_standard"].get<double>())
                         : "n/a",
                     fmt::format("{:.0f}", r["peak_rss_mb"].get<double>())});
  }
  if (!o.forward_only)
    log_line(markdown_table(
        {"preset", "parameters", "step ms (median)", "tokens/s", "model TFLOP/s", "MFU", "overhead vs standard",
         "peak RSS MB"},
        table));
  if (o.peak_tflops > 0) log_line(fmt::format("bench: MFU against a declared peak of {} TFLOP/s", o.peak_tflops));
  if (!o.scheme_names.empty()) {
    std::vector<std::vector<std::string>> eval_table;
    for (const auto& r : records) {
      const double first_ms = r["eval"][o.scheme_names[0]]["median_ms"].get<double>();
      for (const auto& name : o.scheme_names) {
        const double ms = r["eval"][name]["median_ms"].get<double>();
        eval_table.push_back({r["preset"].get<std::string>(), name, fmt::format("{:.1f}", ms),
                              fmt::format("{:.0f}", r["eval"][name]["tokens_per_s"].get<double>()),
                              fmt::format("{:+.1f}%", 100.0 * (ms / first_ms - 1.0))});
      }
    }
    log_line(markdown_table({"preset", "scheme", "eval forward ms (median)", "eval tokens/s", "time vs " + o.scheme_names[0]},
                            eval_table));
  }
  if (o.decode_tokens > 0) {
    std::vector<std::vector<std::string>> decode_table;
    for (const auto& r : records) {
      const double cached = r["decode"]["cached_tokens_per_s"].get<double>();
      const double recomputed = r["decode"]["recomputed_tokens_per_s"].get<double>();
      decode_table.push_back({r["preset"].get<std::string>(), fmt::format("{:.0f}", cached),
                              fmt::format("{:.0f}", recomputed), fmt::format("{:.1f}x", cached / recomputed)});
    }
    log_line(markdown_table({"preset", fmt::format("decode tok/s, KV cache ({} new, batch {})", o.decode_tokens, o.decode_batch),
                             "decode tok/s, recomputed", "speed-up"},
                            decode_table));
  }
}

}  // namespace

int cmd_bench(const std::vector<std::string>& args) {
  const auto options = parse_bench(args);
  if (!options) return 0;
  if (options->rank_child) {
    run_scaling_child(load_config(options->config_file, options->overrides), options->steps, options->warmup);
    return 0;
  }
  if (!options->ranks.empty()) {
    const nlohmann::json records = run_scaling({options->config_file, options->overrides, options->presets,
                                                options->ranks, options->steps, options->warmup, options->repeats});
    render_scaling(records);
    if (!options->out_file.empty()) write_file_atomic(options->out_file, records.dump(2) + "\n");
    return 0;
  }
  if (!options->only.empty()) {  // child: one preset, for its peak memory
    SpeedTrial trial(preset_config(*options, options->only));
    for (int64_t i = 0; i < 2; ++i) trial.step_ms();
    print_bench_result({{"parameters", trial.parameters()}});
    return 0;
  }
  const nlohmann::json records = run_bench(*options);
  render_bench(*options, records);
  if (!options->out_file.empty()) write_file_atomic(options->out_file, records.dump(2) + "\n");
  return 0;
}

}  // namespace oasis
