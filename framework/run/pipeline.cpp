#include "framework/run/pipeline.h"

#include <chrono>
#include <optional>

#include <fmt/format.h>
#include <torch/torch.h>

#include "framework/core/build_info.h"
#include "framework/core/errors.h"
#include "framework/core/file_digest.h"
#include "framework/core/json_file.h"
#include "framework/core/hash.h"
#include "framework/core/log.h"
#include "framework/core/paths.h"
#include "framework/core/runtime.h"
#include "framework/core/version.h"
#include "framework/data/batches.h"
#include "framework/data/token_data.h"
#include "framework/dist/process_group.h"
#include "framework/eval/backcopy_scores.h"
#include "framework/eval/gsm8k_eval.h"
#include "framework/eval/perplexity.h"
#include "framework/model/presets.h"
#include "framework/model/transformer.h"
#include "framework/quant/transform.h"
#include "framework/run/results_file.h"
#include "framework/run/run_dir.h"
#include "framework/stats/collect.h"
#include "framework/stats/stats_file.h"
#include "framework/stats/summary_metrics.h"
#include "framework/train/checkpoint.h"
#include "framework/train/finetune_data.h"
#include "framework/train/trainer.h"

namespace oasis {
namespace fs = std::filesystem;

namespace {

struct Session {
  Config config;
  fs::path run_dir;
  c10::Device device = c10::kCPU;
  ComputeSettings compute;
  int64_t threads = 1;
  TokenizedData data;
  ModelComponents components;
  std::vector<QuantScheme> schemes;  // quant.schemes, loaded (and so checked) before any work
  std::shared_ptr<LanguageModel> model;
};

int64_t parameter_count(LanguageModel& model) {
  int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

std::vector<std::string> needed_splits(const Config& c, const std::vector<QuantScheme>& schemes, bool training) {
  std::vector<std::string> splits = c.eval.splits, extra;
  if (training) extra = {"train", "valid"};
  if (c.stats.enabled) extra.push_back(c.stats.split);
  for (const auto& scheme : schemes)
    if (scheme.needs_calibration()) extra.push_back(scheme.calibration.split);
  for (const auto& s : extra)
    if (std::find(splits.begin(), splits.end(), s) == splits.end()) splits.push_back(s);
  return splits;
}

// Everything both commands need: threads, seed, data, model; then the settings table.
Session open_session(const Config& config, const fs::path& run_dir, bool training) {
  Session s;
  s.config = config;
  s.run_dir = run_dir;
  for (const auto& name : config.quant.schemes) s.schemes.push_back(load_quant_scheme(name));
  const Distributed& dist = distributed();
  // threads 0 = all cores, shared by the processes of this node.
  s.threads = apply_threads(config.threads ? config.threads
                                           : std::max<int64_t>(1, resolve_threads(0) / dist.local_world_size()));
  s.device = dist.place(resolve_device(config.device));
  s.data = prepare_data(config.data, needed_splits(config, s.schemes, training));
  seed_everything(config.seed);
  s.components = resolve_components(config.model);
  s.model = build_model(config.model_to_build(), s.data.tokenizer->vocab_size());
  s.model->to(s.device);
  s.compute = compute_settings(config, s.device);
  s.model->configure(s.compute);

  auto rows = config_rows(config);
  rows.emplace_back("(code version)", code_version());
  rows.emplace_back("(config hash)", config_hash(config));
  rows.emplace_back("(run dir)", run_dir.string());
  rows.emplace_back("(processes)", dist.describe());
  rows.emplace_back("(device / precision / attention / threads)",
                    fmt::format("{} / {} / {} / {}", s.device.str(), precision_name(s.compute.dtype),
                                s.compute.attention_kernel(), s.threads));
  rows.emplace_back("(dataset source)", s.data.corpus.source.string());
  rows.emplace_back("(splits)", s.data.corpus.split_rule);
  rows.emplace_back("(vocab size)", std::to_string(s.data.tokenizer->vocab_size()));
  for (const auto& [name, ids] : s.data.splits)
    rows.emplace_back(fmt::format("(tokens {})", name),
                      fmt::format("{}{}", ids.size(), s.data.from_cache.at(name) ? " (cached)" : ""));
  const ModelComponents& m = s.components;
  rows.emplace_back("(components)", fmt::format("router {}{}, normalizer {}, gate {}, null signal {}", m.router,
                                                m.router == "attnres" ? fmt::format(" ({} blocks)", m.attnres_blocks) : "",
                                                m.normalizer, m.gate, m.null_signal));
  rows.emplace_back("(parameters)", std::to_string(parameter_count(*s.model)));
  rows.emplace_back("(swiglu hidden)", std::to_string(swiglu_hidden(config.model)));
  rows.emplace_back("(tokens per step)",
                    std::to_string(config.train.batch_size * config.train.grad_accum * config.data.seq_len));
  print_table("oasis settings", rows);
  return s;
}

// Every rank must train on the same tokens: rank 0 prepares the caches the others then read.
void require_same_data(const Session& s) {
  std::string identity = std::to_string(s.data.tokenizer->vocab_size());
  for (const auto& [name, ids] : s.data.splits) identity += fmt::format(" {}:{}", name, ids.size());
  distributed().require_same("tokenized data (vocabulary, tokens per split)", identity);
}

nlohmann::json evaluate_perplexities(Session& s, const std::string& scheme) {
  const Config& c = s.config;
  PerplexityOptions options{c.eval_context_len(), c.eval_stride(), c.data.bos, c.eval.max_tokens, c.eval.batch_size};
  nlohmann::json out = nlohmann::json::object();
  for (const auto& split : c.eval.splits) {
    const PerplexityResult r = evaluate_perplexity(*s.model, s.data.split(split), *s.data.tokenizer, options);
    out[split] = r.to_json();
    log_line(fmt::format("eval {:<5} {:<12} | ppl {:.3f} | bits/byte {:.4f} | nll {:.4f} | {} tokens, context {}, stride {}{}",
                         split, scheme, r.perplexity(), r.bits_per_byte(), r.mean_nll(), r.tokens, options.context_len,
                         options.stride, options.bos ? ", BOS" : ""));
  }
  return out;
}

// Windows [N, T] of `split` for a seeded purpose (statistics, calibration), BOS-prefixed with data.bos.
at::Tensor seeded_windows(const Session& s, const std::string& split, int64_t seq_len, int64_t count, uint64_t seed) {
  const WindowSampler sampler(s.data.split(split), seq_len, s.config.data.bos, s.data.tokenizer->end_of_text(), seed,
                              s.data.corpus.window_period);
  return sampler.batch(0, count).inputs;
}

// Applies `scheme` to the session's model (calibrating static schemes); `record` gets what was done.
// Float schemes leave `quantized` empty. Dynamic schemes create their activation quantizers on first
// use, so the caller records the sites after running the model.
void apply_scheme(Session& s, const QuantScheme& scheme, std::optional<QuantTransform>& quantized,
                  nlohmann::json& record) {
  record = {{"scheme_yaml", quant_scheme_yaml(scheme)}};
  if (scheme.is_float()) return;
  const Config& c = s.config;
  quantized.emplace(*s.model, scheme);
  if (scheme.needs_calibration()) {
    const CalibrationConfig& cal = scheme.calibration;
    const int64_t seq_len = cal.seq_len ? cal.seq_len : c.eval_context_len();
    quantized->calibrate(seeded_windows(s, cal.split, seq_len, cal.batches * cal.batch_size, uint64_t(cal.seed)),
                         cal.batch_size);
    record["calibration"] = {{"split", cal.split}, {"batches", cal.batches}, {"batch_size", cal.batch_size},
                             {"seq_len", seq_len}, {"seed", cal.seed}, {"estimator", scheme.activations.range}};
  }
  record["quantized_weights"] = quantized->quantized_weights();
}

// An evaluation's stats.h5 is written here first and only replaces the previous one in commit_results.
const char* const kPendingStats = "stats.h5.new";

// For every quantization scheme: calibration (static schemes), perplexity on every configured split and,
// when enabled, the statistics pass; all statistics go into one stats.h5. Each stage is timed, so the
// cost of statistics and calibration stays visible.
void evaluate_into(Session& s, int64_t checkpoint_step, nlohmann::json& results) {
  const Config& c = s.config;
  fs::remove(s.run_dir / kPendingStats);  // left by an evaluation that failed halfway
  for (const char* key : {"perplexity", "quantization", "timing"}) results[key] = nlohmann::json::object();
  results.erase("stats");  // a re-evaluation without statistics leaves no stale summary behind
  results.erase("task");
  at::Tensor stats_windows;
  if (c.stats.enabled)  // a seed of their own, derived from the run's, so they differ from the training stream's
    stats_windows =
        seeded_windows(s, c.stats.split, c.stats_seq_len(), c.stats.sequences, uint64_t(c.seed) ^ 0x5747415453ull);
  std::vector<SchemeStats> all_stats;
  for (const QuantScheme& scheme : s.schemes) {
    nlohmann::json& timing = results["timing"][scheme.name];
    std::optional<QuantTransform> quantized;
    auto t0 = std::chrono::steady_clock::now();
    apply_scheme(s, scheme, quantized, results["quantization"][scheme.name]);
    if (quantized) timing["quantize_s"] = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    results["perplexity"][scheme.name] = evaluate_perplexities(s, scheme.name);
    timing["perplexity_s"] = seconds_since(t0);
    if (const auto task = s.data.corpus.backcopy) {  // the task's own metrics on every test sequence
      const auto& test = s.data.split("test");
      const WindowSampler sequences(test, c.data.seq_len, c.data.bos, s.data.tokenizer->end_of_text(), 0,
                                    s.data.corpus.window_period);
      nlohmann::json scores = score_backcopy(*s.model, sequences.evenly_spaced(int64_t(test.size()) / c.data.seq_len),
                                             *task, *s.data.tokenizer, c.eval.batch_size)
                                  .to_json();
      log_line(fmt::format("task  {:<12} | test copy accuracy {:.4f} | copy loss {:.4f} | bigram loss {:.4f} (optimum "
                           "{:.4f})",
                           scheme.name, scores["copy_accuracy"].get<double>(), scores["copy_loss"].get<double>(),
                           scores["bigram_loss"].get<double>(), scores["bigram_optimum"].get<double>()));
      scores["split"] = "test";
      scores["triggers"] = task->triggers;
      results["task"][scheme.name] = scores;
    }
    if (quantized) results["quantization"][scheme.name]["activation_sites"] = quantized->activation_sites();
    if (!c.stats.enabled) continue;
    t0 = std::chrono::steady_clock::now();
    all_stats.push_back(collect_statistics(*s.model, stats_windows, c.stats, scheme.name));
    timing["stats_s"] = seconds_since(t0);
    const StatsSummary summary = all_stats.back().summary();
    results["stats"][scheme.name] = summary_to_json(summary);
    log_line(fmt::format("stats {:<12} | {} | max inf norm site {} | {:.1f} s", scheme.name, watched_summary_text(summary),
                         summary.max_inf_norm_site, timing["stats_s"].get<double>()));
  }
  if (!c.stats.enabled) return;
  StatsMeta meta{code_version(), config_to_yaml(c), config_hash(c), c.model.preset, c.data.dataset, c.data.tokenizer,
                 s.device.str(), precision_name(s.compute.dtype), c.stats.split, s.run_dir.string(), c.seed, stats_windows.size(0),
                 stats_windows.size(1), c.data.bos};
  std::vector<const SchemeStats*> pointers;
  for (const auto& st : all_stats) pointers.push_back(&st);
  const fs::path file = s.run_dir / kPendingStats;  // moved into place by commit_results
  write_stats_file(file, meta, pointers);
  results["stats"].update({{"file", "stats.h5"}, {"checkpoint_step", checkpoint_step}, {"split", c.stats.split},
                           {"sequences", stats_windows.size(0)}, {"seq_len", stats_windows.size(1)}, {"bos", c.data.bos},
                           {"sites", c.stats.sites}, {"sink_eps", c.stats.sink_eps}});
}

// Supervised fine-tuning on GSM8K train, a stage of its own in <run>/finetune (resumable like pretraining).
nlohmann::json finetune(Session& s) {
  const Config& c = s.config;
  auto examples = std::make_shared<FinetuneExamples>(c, *s.data.tokenizer);
  StageData stage{[examples](int64_t first, int64_t count) { return examples->batch(first, count); },
                  examples->validation(c.finetune.eval_batches * c.finetune.batch_size), {}};
  const TrainResult r = train_stage("finetune", c, c.finetune, s.run_dir / "finetune", *s.model, stage);
  return {{"task", c.finetune.task}, {"steps", r.state.step}, {"train_items", examples->train_size()},
          {"held_out_items", examples->valid_size()}, {"skipped_items", examples->skipped()},
          {"seq_len", c.finetune_seq_len()}, {"tokens_seen", r.state.tokens_seen}, {"final_loss", r.state.last_loss},
          {"final_val_loss", r.state.last_val_loss}, {"wall_s", r.state.elapsed_s},
          {"checkpoint", checkpoint_dir(fs::path("finetune"), r.state.step).string()}};
}

// GSM8K Pass@1 for every quantization scheme, with the model as it stands (fine-tuned when configured).
void score_gsm8k_into(Session& s, nlohmann::json& results) {
  const Config& c = s.config;
  const Gsm8kSuite suite(c.gsm8k, c.data.data_dir, *s.data.tokenizer);
  results["gsm8k"] = nlohmann::json::object();
  for (const QuantScheme& scheme : s.schemes) {
    std::optional<QuantTransform> quantized;
    nlohmann::json record;  // the settings of results.quantization.<scheme>, calibrated again on this model
    apply_scheme(s, scheme, quantized, record);
    nlohmann::json summary = suite.score(*s.model, s.run_dir / fmt::format("gsm8k_{}.jsonl", scheme.name));
    summary["model"] = c.finetune.steps > 0 ? "finetuned" : "pretrained";
    log_line(fmt::format("gsm8k {:<12} | pass@1 {:.4f} ({}) | strict {:.4f} flexible {:.4f} | {} items, {}-shot | {:.1f} s",
                         scheme.name, summary["pass_at_1"].get<double>(), c.gsm8k.filter,
                         summary["exact_match"]["strict-match"].get<double>(),
                         summary["exact_match"]["flexible-extract"].get<double>(), summary["items"].get<int64_t>(),
                         summary["num_fewshot"].get<int64_t>(), summary["wall_s"].get<double>()));
    results["gsm8k"][scheme.name] = summary;
  }
}

// After the corpus evaluation: fine-tuning (or its newest checkpoint, `train` false) and GSM8K.
void finetune_and_score(Session& s, nlohmann::json& results, bool train) {
  const Config& c = s.config;
  results.erase("gsm8k");  // a re-evaluation without GSM8K leaves no stale scores behind
  if (c.finetune.steps > 0) {
    if (train) {
      results["finetune"] = finetune(s);
    } else {
      const auto checkpoint = latest_checkpoint(s.run_dir / "finetune");
      if (!checkpoint)
        throw RuntimeError(fmt::format("run directory '{}' has no complete fine-tuning checkpoint", s.run_dir.string()));
      load_checkpoint(*checkpoint, *s.model, nullptr);
    }
  }
  if (c.gsm8k.enabled) score_gsm8k_into(s, results);
}

// Puts a finished evaluation in place. A perplexity that is not a finite number means the evaluation is
// broken, not a result: it is refused, and the previous results.json and stats.h5 stay as they were.
void commit_results(const fs::path& run_dir, const nlohmann::json& results) {
  // What readers would refuse is never written; the same reading finds a broken perplexity.
  const RunResults parsed = parse_results(results, (run_dir / "results.json").string());
  for (const auto& [scheme, splits] : parsed.perplexity)
    for (const auto& [split, ppl] : splits)
      if (!std::isfinite(ppl)) {  // JSON stores NaN and infinities as null
        fs::remove(run_dir / kPendingStats);
        throw RuntimeError(fmt::format("{} perplexity on {} is null; nothing written, the previous results.json and "
                                       "stats.h5 in '{}' are unchanged",
                                       scheme, split, run_dir.string()));
      }
  if (fs::exists(run_dir / kPendingStats)) {
    fs::rename(run_dir / kPendingStats, run_dir / "stats.h5");
    write_digest_sidecar(run_dir / "stats.h5");
    log_line(fmt::format("wrote {}", (run_dir / "stats.h5").string()));
  }
  write_file_atomic(run_dir / "results.json", results.dump(2) + "\n");
  log_line(fmt::format("wrote {}", (run_dir / "results.json").string()));
}

nlohmann::json results_header(const Session& s, int64_t checkpoint_step) {
  const Config& c = s.config;
  const ModelComponents& m = s.components;
  const BuildInfo build = build_info();
  return {{"schema_version", kResultsSchemaVersion},
          {"created_utc", utc_now()},
          {"experiment", c.experiment},
          {"run", c.run},
          {"run_dir", s.run_dir.string()},
          {"code_version", code_version()},
          {"config_hash", config_hash(c)},
          {"seed", c.seed},
          {"checkpoint_step", checkpoint_step},
          {"device", s.device.str()},
          {"precision", precision_name(s.compute.dtype)},
          {"attention_kernel", s.compute.attention_kernel()},
          {"libtorch", build.libtorch},
          {"cuda", build.cuda.empty() ? "none" : build.cuda},
          {"model", {{"preset", c.model.preset}, {"router", m.router}, {"attnres_blocks", m.attnres_blocks},
                     {"normalizer", m.normalizer}, {"gate", m.gate}, {"null_signal", m.null_signal},
                     {"parameters", parameter_count(*s.model)}, {"vocab_size", s.data.tokenizer->vocab_size()}}},
          {"data", {{"dataset", c.data.dataset}, {"tokenizer", c.data.tokenizer}, {"bos", c.data.bos},
                    {"split_rule", s.data.corpus.split_rule}, {"source", s.data.corpus.source.string()}}}};
}

}  // namespace

namespace {

// A rank other than 0 of a multi-process run: it trains in step with rank 0 and writes nothing. Rank 0
// prepares the run directory and the data caches first, and evaluates alone (the others wait for it
// only when a fine-tuning stage follows the evaluation).
void follow_main_rank(const Config& config, const Distributed& dist) {
  if (dist.wait_for_main("session") == "done") return;
  Session s = open_session(config, config.run_dir(), true);
  require_same_data(s);
  train_model(config, s.run_dir, *s.model, s.data);
  if (config.finetune.steps == 0) return;
  dist.wait_for_main("evaluation");
  finetune(s);
}

}  // namespace

nlohmann::json train_and_evaluate(const Config& config) {
  const Distributed& dist = join_distributed(config, config_hash(config));
  if (!dist.is_main()) {
    follow_main_rank(config, dist);
    return nlohmann::json::object();
  }
  const RunLock lock(config.run_dir());  // before config.yaml: a second writer never leaves its config behind
  const fs::path run_dir = prepare_run_dir(config);
  if (run_is_done(run_dir)) {
    dist.announce("session", "done");
    log_line(fmt::format("run already complete: {} (delete DONE to evaluate again, or use `oasis eval`)", run_dir.string()));
    return read_json_file(run_dir / "results.json");
  }
  Session s = open_session(config, run_dir, true);
  dist.announce("session", "train");
  require_same_data(s);
  const TrainResult trained = train_model(config, run_dir, *s.model, s.data);

  nlohmann::json results = results_header(s, trained.state.step);
  results["train"] = {{"steps", trained.state.step},
                      {"tokens_seen", trained.state.tokens_seen},
                      {"final_loss", trained.state.last_loss},
                      {"final_val_loss", trained.state.last_val_loss},
                      {"wall_s", trained.state.elapsed_s},
                      {"processes", {{"world_size", dist.world_size()}, {"backend", dist.backend()}}}};
  evaluate_into(s, trained.state.step, results);
  dist.announce("evaluation");
  finetune_and_score(s, results, true);
  commit_results(run_dir, results);
  mark_run_done(run_dir);
  return results;
}

nlohmann::json evaluate_run(const fs::path& run_dir, const std::vector<std::string>& overrides) {
  const Config config = load_run_config(run_dir, overrides);
  const RunLock lock(run_dir);
  const auto checkpoint = latest_checkpoint(run_dir);
  if (!checkpoint) throw RuntimeError(fmt::format("run directory '{}' has no complete checkpoint", run_dir.string()));
  Session s = open_session(config, run_dir, false);
  const TrainState state = load_checkpoint(*checkpoint, *s.model, nullptr);

  const fs::path file = run_dir / "results.json";
  nlohmann::json results = fs::exists(file) ? read_json_file(file) : nlohmann::json::object();
  const nlohmann::json header = results_header(s, state.step);  // named: items() of a temporary would dangle
  for (const auto& [key, value] : header.items()) results[key] = value;
  evaluate_into(s, state.step, results);
  finetune_and_score(s, results, false);
  commit_results(run_dir, results);
  return results;
}

}  // namespace oasis
