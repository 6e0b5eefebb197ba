// Quantization schemes: named YAML presets in configs/quant/<name>.yaml (fp, w8a8, w8a8-dynamic, w4a4, ...)
// read into a typed struct with the same rules as the run config (unknown keys and impossible settings
// are errors naming the file, line and key). A scheme says how weights and activations are quantized,
// which tap sites get activation quantizers, whether the LM head is included, and how static ranges are
// calibrated.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "framework/core/config_fields.h"
#include "framework/quant/fake_quant.h"

namespace oasis {

// A quantizer's settings as a scheme file writes them, and `spec`, what the quantizers use: the same settings
// with the names resolved to enums, once, by load_quant_scheme.
struct QuantSpecConfig {
  int64_t bits = 8;
  bool symmetric = true;
  std::string granularity = "tensor";
  std::string range = "minmax";
  double momentum = 0.9;
  double clip_ratio = 1.0;
  template <class V>
  void visit(V& v) {
    v.field("bits", bits, "bits per value", between<int64_t>(2, 16));
    v.field("symmetric", symmetric, "symmetric (zero point 0) or asymmetric (min-max with a zero point)");
    v.field("granularity", granularity, "one range per tensor, output channel or token", one_of(granularity_names()));
    v.field("range", range, "dynamic (from the tensor itself) or a calibrated static estimator",
            one_of(range_estimator_names()));
    v.field("momentum", momentum, "running_minmax: weight of the previous range", between(0.0, 1.0));
    v.field("clip_ratio", clip_ratio, "the range is scaled by this", between(0.01, 1.0));
  }
  QuantSpec spec;
  void resolve() { spec = {bits, symmetric, granularity_named(granularity), range_estimator_named(range), momentum, clip_ratio}; }
};

struct CalibrationConfig {
  std::string split = "train";
  int64_t batches = 16;
  int64_t batch_size = 8;
  int64_t seq_len = 0;  // 0: the evaluation context length
  int64_t seed = 0;
  template <class V>
  void visit(V& v) {
    v.field("split", split, "split the calibration windows come from", one_of({"train", "valid", "test"}));
    v.field("batches", batches, "calibration batches for static activation ranges", between<int64_t>(1, 1 << 20));
    v.field("batch_size", batch_size, "windows per calibration batch", between<int64_t>(1, 1 << 20));
    v.field("seq_len", seq_len, "tokens per window; 0 = the evaluation context length", between<int64_t>(0, 1 << 20));
    v.field("seed", seed, "seed of the calibration windows", between<int64_t>(0, int64_t(1) << 62));
  }
};

struct QuantScheme {
  std::string name;  // the file's stem
  bool quantize_weights = false;
  bool quantize_activations = false;
  QuantSpecConfig weights, activations;
  std::vector<std::string> sites = {"linear_inputs"};
  bool lm_head = false;
  CalibrationConfig calibration;

  template <class V>
  void visit(V& v) {
    v.field("quantize_weights", quantize_weights, "fake-quantize every Linear's weight");
    v.field("quantize_activations", quantize_activations, "fake-quantize the activations at `sites`");
    v.section("weights", weights);
    v.section("activations", activations);
    v.field("sites", sites, "activation site groups", each_one_of(site_group_names()));
    v.field("lm_head", lm_head, "include the LM head (its weight and its input); off = kept in float");
    v.section("calibration", calibration);
  }

  bool is_float() const { return !quantize_weights && !quantize_activations; }
  bool needs_calibration() const { return quantize_activations && !activations.spec.dynamic(); }
  // Glob patterns over tap names for the activation quantizers.
  std::vector<std::string> site_patterns() const;
  static std::vector<std::string> site_group_names();
};

std::filesystem::path quant_configs_dir();         // <configs>/quant
std::vector<std::string> quant_scheme_names();     // the presets there
QuantScheme load_quant_scheme(const std::string& name);  // ConfigError on any problem
std::string quant_scheme_yaml(const QuantScheme& scheme);  // resolved, for provenance

}  // namespace oasis
