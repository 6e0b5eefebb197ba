// The run configuration: typed sections with defaults, each field listed once in `visit`. Precedence:
// struct defaults <- YAML file (with its `defaults:` compositions) <- `key=value` overrides. Cross-field
// rules live in `validate`. The names of registry entries (presets, datasets, tokenizers) come from the
// registries themselves, so a config can only name something that exists.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/core/component_options.h"
#include "framework/core/config_fields.h"
#include "framework/core/config_tree.h"

namespace oasis {

// Provided by the registries (model/presets.cpp, data/datasets.cpp, data/tokenizer.cpp).
std::vector<std::string> model_preset_names();
struct ModelConfig;
// "" when the preset plus overrides make a buildable model, else what is wrong (model/presets.cpp).
std::string model_components_problem(const ModelConfig& model);
std::vector<std::string> dataset_names();
std::vector<std::string> tokenizer_names();
std::vector<std::string> quant_scheme_names();  // quant/scheme.cpp: the presets in configs/quant
std::vector<std::string> summary_metric_names();  // stats/summary_metrics.cpp
std::vector<std::string> gsm8k_task_names();   // eval/gsm8k.cpp
std::vector<std::string> normalizer_names();   // model/normalizers.cpp
std::vector<std::string> gate_names();         // model/gates.cpp
std::vector<std::string> router_names();       // model/routers.cpp
std::vector<std::string> null_signal_names();  // model/routers.cpp: "none" and what the routers carry
inline std::vector<std::string> with_empty(std::vector<std::string> names) {  // "" = the preset's choice
  names.insert(names.begin(), "");
  return names;
}

// OASIS null signal (docs/models.md). Variant a: the mean over heads of -LSE of the previous attention
// sublayer gates the next sublayer's update; b: each depth source carries its layers' mean null mass,
// which lowers its routing logit; ab: both.
struct OasisConfig {
  std::string variant = "a";
  double ema_rate = 0.0;     // rho: n_t = rho * n_prev + (1 - rho) * e_t; 0 = the immediate value
  bool detach = false;       // stop gradients through the null evidence
  std::string sites = "both";  // routing sites whose update is gated: both | attn | mlp
  bool per_head = false;     // learned per-head weights beta_h instead of the mean over heads
  double gate_bias_init = -6.0;  // c: the gate starts at sigmoid(LSE_i z_i - c), i.e. near 1

  template <class V>
  void visit(V& v) {
    v.field("variant", variant, "a (null-gated update), b (null-aware source logits) or ab", one_of({"a", "b", "ab"}));
    v.field("ema_rate", ema_rate, "depth EMA rate rho of the null signal; 0 = immediate", between(0.0, 0.999));
    v.field("detach", detach, "stop gradients through the null evidence");
    v.field("sites", sites, "routing sites whose update the null gate scales", one_of({"both", "attn", "mlp"}));
    v.field("per_head", per_head, "learned per-head weights instead of the mean over heads");
    v.field("gate_bias_init", gate_bias_init, "initial null logit bias c (-6: gate starts near 1)", between(-50.0, 50.0));
  }
};

struct ModelConfig {
  std::string preset = "standard";
  int64_t d_model = 128;
  int64_t n_layers = 4;
  int64_t n_heads = 4;
  int64_t n_kv_heads = 0;  // key/value heads (grouped-query attention); 0 = n_heads
  int64_t head_dim = 0;    // per-head width of queries, keys and values; 0 = d_model / n_heads
  int64_t d_ff = 0;  // 0: SwiGLU's 8/3 * d_model rounded up to a multiple of 64
  int64_t max_seq_len = 1024;
  double rope_theta = 10000.0;
  double norm_eps = 1e-5;
  double init_std = 0.02;
  bool tie_embeddings = true;
  std::string init_from;  // a run directory whose newest checkpoint initialises the model (train/init_from.h)
  // Components; "" takes the preset's choice, anything else overrides it.
  std::string router;       // a name from the router registry (model/routers.h)
  int64_t attnres_blocks = 0;  // 0: one block per transformer layer; 2 * n_layers = Full AttnRes
  std::string normalizer;   // a name from the normalizer registry (model/normalizers.h)
  std::string gate;         // a name from the gate registry (model/gates.h)
  std::string null_signal;  // none, or one the router carries (oasis: attnres)
  OasisConfig oasis;
  // The registered components' own options, one section each (model.clipped.*, model.bondarenko.*).
  ComponentSections components = registered_component_options();
  // The training context length T that length-dependent components use (clipped softmax's gamma = -alpha/T,
  // sigmoid attention's bias -log T): not a key of its own; Config::model_to_build sets it to data.seq_len,
  // and a bare ModelConfig uses max_seq_len.
  int64_t context_len = 0;

  template <class V>
  void visit(V& v) {
    v.field("preset", preset, "model preset from the registry (`oasis models`)", one_of(model_preset_names()));
    v.field("router", router, "residual router; empty = the preset's", one_of(with_empty(router_names())));
    v.field("attnres_blocks", attnres_blocks, "AttnRes blocks N; 0 = n_layers; 2*n_layers = Full AttnRes",
            between<int64_t>(0, 4096));
    v.field("normalizer", normalizer, "attention score normalizer; empty = the preset's",
            one_of(with_empty(normalizer_names())));
    v.field("gate", gate, "attention output gate; empty = the preset's", one_of(with_empty(gate_names())));
    v.field("null_signal", null_signal, "inter-layer null signal; empty = the preset's", one_of(with_empty(null_signal_names())));
    v.section("oasis", oasis);
    components.visit(v);
    v.field("d_model", d_model, "residual width", between<int64_t>(8, 65536));
    v.field("n_layers", n_layers, "transformer layers (each = attention + MLP sublayer)", between<int64_t>(1, 1024));
    v.field("n_heads", n_heads, "attention heads (must divide d_model)", between<int64_t>(1, 1024));
    v.field("n_kv_heads", n_kv_heads, "key/value heads, each shared by n_heads / n_kv_heads query heads "
            "(grouped-query attention); 0 = n_heads", between<int64_t>(0, 1024));
    v.field("head_dim", head_dim, "width of each query/key/value head (even: RoPE rotates pairs); 0 = d_model / n_heads",
            between<int64_t>(0, 65536));
    v.field("d_ff", d_ff, "SwiGLU hidden width; 0 = 8/3*d_model rounded up to 64", between<int64_t>(0, 1 << 20));
    v.field("max_seq_len", max_seq_len, "longest sequence the RoPE tables cover", between<int64_t>(2, 1 << 20));
    v.field("rope_theta", rope_theta, "RoPE base frequency", between(1.0, 1e9));
    v.field("norm_eps", norm_eps, "RMSNorm epsilon", between(0.0, 1.0));
    v.field("init_std", init_std, "std of the normal init of embeddings and linears", between(1e-6, 10.0));
    v.field("tie_embeddings", tie_embeddings, "share the input embedding with the LM head");
    v.field("init_from", init_from, "run directory (e.g. an import-hf run) whose newest checkpoint initialises the "
            "model; parameters it lacks (routing queries, gates) keep their init and train at train.new_lr");
  }
  int64_t context_T() const { return context_len ? context_len : max_seq_len; }
  int64_t kv_heads() const { return n_kv_heads ? n_kv_heads : n_heads; }
  int64_t head_size() const { return head_dim ? head_dim : d_model / n_heads; }
};

struct DataConfig {
  std::string dataset = "wikitext2";
  std::string tokenizer = "gpt2";
  int64_t seq_len = 128;
  bool bos = false;
  std::string data_dir;   // "" = $OASIS_DATA_DIR, data/cache, ../shared/data (first holding the dataset)
  std::string cache_dir;  // "" = $OASIS_CACHE_DIR or <repo>/.cache
  // The registered datasets' and tokenizers' own options, one section each: data.text.path,
  // data.sentencepiece.vocab_size, data.bigram_backcopy.* (beside their classes in framework/data/).
  ComponentSections components = registered_component_options(OptionsScope::data);

  template <class V>
  void visit(V& v) {
    v.field("dataset", dataset, "dataset from the registry", one_of(dataset_names()));
    v.field("tokenizer", tokenizer, "tokenizer", one_of(tokenizer_names()));
    v.field("seq_len", seq_len, "training window length in tokens (BOS included)", between<int64_t>(2, 1 << 20));
    v.field("bos", bos, "start every window with the end-of-text token (where attention sinks form)");
    v.field("data_dir", data_dir, "dataset root; empty = $OASIS_DATA_DIR, data/cache, ../shared/data");
    v.field("cache_dir", cache_dir, "tokenized-array cache; empty = $OASIS_CACHE_DIR or <repo>/.cache");
    components.visit(v);
  }
};

struct TrainConfig {
  int64_t steps = 1000;
  int64_t batch_size = 16;
  int64_t grad_accum = 1;
  double lr = 1e-3;
  double new_lr = 0.0;  // peak LR of the parameters model.init_from does not supply; 0 = lr
  double min_lr_ratio = 0.1;
  int64_t warmup_steps = 100;
  double weight_decay = 0.1;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double adam_eps = 1e-8;
  double grad_clip = 1.0;
  std::string adamw_kernel = "auto";
  bool decay_norms_and_embeddings = false;
  int64_t log_every = 10;
  int64_t eval_every = 200;
  int64_t eval_batches = 8;
  int64_t checkpoint_every = 500;
  int64_t keep_checkpoints = 2;
  bool watch_stats = true;

  template <class V>
  void visit(V& v) {
    v.field("steps", steps, "optimizer steps", between<int64_t>(0, int64_t(1) << 40));
    v.field("batch_size", batch_size, "sequences per micro-batch", between<int64_t>(1, 1 << 20));
    v.field("grad_accum", grad_accum, "micro-batches per optimizer step", between<int64_t>(1, 1 << 16));
    v.field("lr", lr, "peak learning rate", between(0.0, 10.0));
    v.field("new_lr", new_lr, "peak learning rate of the parameters model.init_from does not supply (same schedule); "
            "0 = lr", between(0.0, 10.0));
    v.field("min_lr_ratio", min_lr_ratio, "final LR of the cosine decay, as a fraction of lr", between(0.0, 1.0));
    v.field("warmup_steps", warmup_steps, "linear warmup steps", between<int64_t>(0, int64_t(1) << 40));
    v.field("weight_decay", weight_decay, "AdamW decoupled weight decay", between(0.0, 10.0));
    v.field("beta1", beta1, "AdamW beta1", between(0.0, 0.999999));
    v.field("beta2", beta2, "AdamW beta2", between(0.0, 0.999999));
    v.field("adam_eps", adam_eps, "AdamW epsilon", between(0.0, 1.0));
    v.field("grad_clip", grad_clip, "max global gradient norm; 0 = off", between(0.0, 1e9));
    v.field("adamw_kernel", adamw_kernel,
            "AdamW step: foreach (multi-tensor, bit for bit LibTorch's AdamW), fused (LibTorch's fused kernel: the "
            "same state, rounded differently), or auto (fused on cuda, foreach on cpu)",
            one_of({"auto", "foreach", "fused"}));
    v.field("decay_norms_and_embeddings", decay_norms_and_embeddings,
            "apply weight decay to vectors (norm gains, queries, biases) and embeddings too");
    v.field("log_every", log_every, "steps between metric lines", between<int64_t>(1, int64_t(1) << 40));
    v.field("eval_every", eval_every, "steps between validation losses; 0 = only at the end",
            between<int64_t>(0, int64_t(1) << 40));
    v.field("eval_batches", eval_batches, "validation batches per periodic validation", between<int64_t>(1, 1 << 20));
    v.field("checkpoint_every", checkpoint_every, "steps between checkpoints; 0 = only at the end",
            between<int64_t>(0, int64_t(1) << 40));
    v.field("keep_checkpoints", keep_checkpoints, "how many recent checkpoints to keep", between<int64_t>(1, 1000));
    v.field("watch_stats", watch_stats,
            "at each validation, log first-token attention, sink rate, max|x| and kurtosis of one validation batch");
  }
};

struct EvalConfig {
  std::vector<std::string> splits = {"valid", "test"};
  int64_t context_len = 0;  // 0: data.seq_len
  int64_t stride = 0;       // 0: context_len (disjoint windows, every token scored once)
  int64_t max_tokens = 0;   // 0: the whole split
  int64_t batch_size = 8;

  template <class V>
  void visit(V& v) {
    v.field("splits", splits, "splits to report perplexity on", each_one_of({"train", "valid", "test"}));
    v.field("context_len", context_len, "tokens the model sees per perplexity window (BOS included); 0 = data.seq_len",
            between<int64_t>(0, 1 << 20));
    v.field("stride", stride, "tokens between window starts (<= context_len); 0 = context_len",
            between<int64_t>(0, 1 << 20));
    v.field("max_tokens", max_tokens, "score at most this many tokens per split; 0 = all",
            between<int64_t>(0, int64_t(1) << 40));
    v.field("batch_size", batch_size, "windows per evaluation batch", between<int64_t>(1, 1 << 20));
  }
};

// Activation statistics, attention sinks and depth routing over a fixed set of evaluation windows,
// written to stats.h5 (framework/stats/).
struct StatsConfig {
  bool enabled = true;
  std::string split = "test";
  int64_t sequences = 16;
  int64_t seq_len = 0;  // 0: the evaluation context length
  int64_t batch_size = 4;
  std::vector<std::string> sites = {"*"};
  int64_t map_sequences = 2;
  double sink_eps = 0.3;

  template <class V>
  void visit(V& v) {
    v.field("enabled", enabled, "collect statistics and write stats.h5 when evaluating");
    v.field("split", split, "split the statistics windows come from", one_of({"train", "valid", "test"}));
    v.field("sequences", sequences, "evaluation windows (drawn with the run's seed)", between<int64_t>(1, 1 << 20));
    v.field("seq_len", seq_len, "tokens per window (BOS included); 0 = the evaluation context length",
            between<int64_t>(0, 1 << 20));
    v.field("batch_size", batch_size, "windows per forward pass", between<int64_t>(1, 1 << 20));
    v.field("sites", sites, "glob patterns over tap names (e.g. '*.attn.normed', '3.*'); see docs/statistics.md");
    v.field("map_sequences", map_sequences, "windows whose attention maps and per-token routing are stored",
            between<int64_t>(0, 1 << 20));
    v.field("sink_eps", sink_eps, "a head is a sink head when its mean attention to token 1 exceeds this",
            between(0.0, 1.0));
  }
};

// Supervised fine-tuning after pretraining, in the same run: GSM8K train items as prompt -> solution,
// loss on the solution tokens (and the end-of-text token after them) only. The schedule keys are the
// train section's; steps 0 means no fine-tuning. Checkpoints go to <run>/finetune/.
struct FinetuneConfig : TrainConfig {
  std::string task = "gsm8k";
  int64_t seq_len = 0;            // 0: model.max_seq_len
  int64_t valid_examples = 256;   // the last train items, held out for the validation loss

  FinetuneConfig() {
    steps = 0;
    batch_size = 8;
    lr = 3e-4;
    warmup_steps = 0;
    weight_decay = 0.0;
    eval_every = 0;
    eval_batches = 4;
    checkpoint_every = 0;
    watch_stats = false;
  }
  template <class V>
  void visit(V& v) {
    v.field("task", task, "text format of the examples (the GSM8K task evaluated later)", one_of(gsm8k_task_names()));
    v.field("seq_len", seq_len, "longest example in tokens (longer ones are skipped); 0 = model.max_seq_len",
            between<int64_t>(0, 1 << 20));
    v.field("valid_examples", valid_examples, "GSM8K train items held out for the validation loss",
            between<int64_t>(1, 7000));
    TrainConfig::visit(v);
  }
};

// GSM8K Pass@1 (greedy) after training (and fine-tuning), for every quantization scheme.
struct Gsm8kConfig {
  bool enabled = false;
  std::string task = "gsm8k";
  int64_t num_fewshot = -1;  // -1: the task's (5 or 8)
  int64_t fewshot_seed = 1234;
  int64_t limit = 0;         // 0: all 1319 test items
  int64_t max_new_tokens = 256;
  int64_t batch_size = 8;
  std::string filter = "strict-match";  // which filter is reported as pass_at_1

  template <class V>
  void visit(V& v) {
    v.field("enabled", enabled, "score GSM8K test items by greedy generation when evaluating");
    v.field("task", task, "lm-eval task format", one_of(gsm8k_task_names()));
    v.field("num_fewshot", num_fewshot, "examples before each question; -1 = the task's (gsm8k 5, gsm8k-cot 8)",
            between<int64_t>(-1, 64));
    v.field("fewshot_seed", fewshot_seed, "seed of the few-shot draw (lm-eval's is 1234)", between<int64_t>(0, int64_t(1) << 62));
    v.field("limit", limit, "score the first N test items; 0 = all", between<int64_t>(0, 1 << 20));
    v.field("max_new_tokens", max_new_tokens, "generated tokens at most per item", between<int64_t>(1, 1 << 20));
    v.field("batch_size", batch_size, "prompts decoded together", between<int64_t>(1, 1 << 16));
    v.field("filter", filter, "the answer filter reported as pass_at_1", one_of({"strict-match", "flexible-extract"}));
  }
  int64_t shots(int64_t task_default) const { return num_fewshot >= 0 ? num_fewshot : task_default; }
};

// What `oasis report` shows (framework/report/report.h): the method compared, the baselines it is compared
// with (their order is the rows' order), and the summary statistics of table (a), from one scheme's pass.
// It changes no number a run computes: not part of the config hash or the cell ids.
struct ReportConfig {
  std::string method = "oasis";
  std::vector<std::string> baselines = {"standard", "attnres", "attnres-clipped", "attnres-gated", "attnres-softmax1"};
  std::vector<std::string> statistics = {"max_inf_norm",          "avg_kurtosis",           "sink_rate",
                                         "first_token_attention", "first_token_vs_uniform", "depth_sink_mass"};
  std::string statistics_scheme = "fp";

  template <class V>
  void visit(V& v) {
    v.field("method", method, "the preset the report compares with the baselines", one_of(model_preset_names()));
    v.field("baselines", baselines, "presets the method is compared with, in row order", each_one_of(model_preset_names()));
    v.field("statistics", statistics, "summary statistics in table (a) (stats/summary_metrics.h)",
            each_one_of(summary_metric_names()));
    v.field("statistics_scheme", statistics_scheme, "the scheme whose statistics table (a) shows",
            one_of(quant_scheme_names()));
  }
};

// Which quantization schemes `oasis eval` (and the evaluation after training) measures; each is a preset
// in configs/quant. `fp` is the model as trained.
struct QuantConfig {
  std::vector<std::string> schemes = {"fp"};

  template <class V>
  void visit(V& v) {
    v.field("schemes", schemes, "schemes to evaluate (configs/quant/NAME.yaml)", each_one_of(quant_scheme_names()));
  }
};

// One run on several processes (framework/dist, docs/distributed.md): data parallelism over
// torch.distributed. `oasis train` joins the group its launcher (torchrun, srun) describes; nodes and
// procs_per_node tell `oasis run` how to launch each cell. The global batch is train.batch_size x
// train.grad_accum windows whatever the number of processes, so these keys are not part of the config
// hash: they change how a run executes, not what it computes (to float summation order).
struct DistConfig {
  int64_t nodes = 1;
  int64_t procs_per_node = 1;
  std::string backend = "auto";
  double timeout_s = 300;
  double bucket_mb = 25;

  template <class V>
  void visit(V& v) {
    v.field("nodes", nodes, "nodes per run (oasis run --slurm: sbatch --nodes)", between<int64_t>(1, 1 << 16));
    v.field("procs_per_node", procs_per_node, "processes per node, one per GPU (torchrun --nproc-per-node, srun tasks)",
            between<int64_t>(1, 1024));
    v.field("backend", backend, "gradient all-reduce: gloo (CPU), nccl (CUDA), auto (nccl on cuda, else gloo)",
            one_of({"auto", "gloo", "nccl"}));
    v.field("timeout_s", timeout_s, "seconds to wait for the rendezvous and for each collective before failing",
            between(1.0, 86400.0));
    v.field("bucket_mb", bucket_mb, "gradient bucket size in MiB: each bucket is all-reduced as soon as it is ready",
            between(0.001, 4096.0));
  }
};

struct Config {
  std::string experiment = "default";
  std::string run = "run";
  std::string runs_dir = "runs";
  int64_t seed = 0;
  int64_t threads = 0;  // 0: all cores
  std::string device = "cpu";
  std::string precision = "auto";
  std::string attention_kernel = "auto";
  ModelConfig model;
  DataConfig data;
  TrainConfig train;
  EvalConfig eval;
  StatsConfig stats;
  QuantConfig quant;
  FinetuneConfig finetune;
  Gsm8kConfig gsm8k;
  ReportConfig report;
  DistConfig dist;

  template <class V>
  void visit(V& v) {
    v.field("experiment", experiment, "experiment name (a folder under runs_dir)", path_safe_name());
    v.field("run", run, "run name (a folder under the experiment)", path_safe_name());
    v.field("runs_dir", runs_dir, "where run directories go");
    v.field("seed", seed, "the one seed: init, data order, evaluation samples", between<int64_t>(0, int64_t(1) << 62));
    v.field("threads", threads, "CPU threads for LibTorch; 0 = all cores", between<int64_t>(0, 4096));
    v.field("device", device, "compute device", one_of({"auto", "cpu", "cuda"}));
    v.field("precision", precision,
            "matmul precision: bf16 (fp32 master weights; softmax, norms, routing, residual and statistics stay fp32), "
            "fp32, or auto (bf16 on cuda, fp32 on cpu)",
            one_of({"auto", "fp32", "bf16"}));
    v.field("attention_kernel", attention_kernel,
            "softmax/softmax1 attention without taps: fused (one scaled-dot-product call, no [T, T] matrix), written "
            "(scores -> normalizer -> weighted sum), or auto (= fused)",
            one_of({"auto", "fused", "written"}));
    v.section("model", model);
    v.section("data", data);
    v.section("train", train);
    v.section("eval", eval);
    v.section("stats", stats);
    v.section("quant", quant);
    v.section("finetune", finetune);
    v.section("gsm8k", gsm8k);
    v.section("report", report);
    v.section("dist", dist);
  }

  int64_t eval_context_len() const { return eval.context_len ? eval.context_len : data.seq_len; }
  int64_t eval_stride() const { return eval.stride ? eval.stride : eval_context_len(); }
  int64_t stats_seq_len() const { return stats.seq_len ? stats.seq_len : eval_context_len(); }
  // The model section as the model is built: the training context length is data.seq_len.
  ModelConfig model_to_build() const {
    ModelConfig m = model;
    m.context_len = data.seq_len;
    return m;
  }
  int64_t finetune_seq_len() const { return finetune.seq_len ? finetune.seq_len : model.max_seq_len; }
  std::filesystem::path run_dir() const { return std::filesystem::path(runs_dir) / experiment / run; }
};

// Where `defaults:` names resolve: $OASIS_CONFIGS or <repo>/configs.
std::filesystem::path configs_root();

// File + overrides -> validated Config. Throws ConfigError (exit code 2) on any problem.
Config load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides);
// A ConfigTree (e.g. a run's saved config.yaml plus overrides) -> validated Config.
Config config_from_tree(const ConfigTree& tree);

// A run directory's config.yaml written before keys moved (model.clip_alpha -> model.clipped.alpha): the
// values are moved to their new keys, so old runs still evaluate and resume. Anywhere else an old key is
// a ConfigError naming the new one.
void migrate_renamed_keys(ConfigTree& tree);

// The resolved config as YAML (what config.yaml in a run directory holds).
std::string config_to_yaml(const Config& config);
// Flattened (dotted key, value) rows for the settings table.
std::vector<std::pair<std::string, std::string>> config_rows(const Config& config);
// Every key with its default and help text.
std::vector<KeyDescription> config_keys();

}  // namespace oasis
