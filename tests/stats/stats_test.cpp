// Statistics and stats.h5: the definitions against hand-computed and independently computed values,
// mergeable moments, the HDF5 round trip (ours and h5py's), rejection of truncated, incomplete and newer
// files, stored attention maps, and trained models giving different numbers.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "framework/core/paths.h"
#include "framework/model/presets.h"
#include "framework/run/pipeline.h"
#include "framework/stats/collect.h"
#include "framework/stats/probe.h"
#include "framework/stats/stats_file.h"
#include "framework/stats/summary_metrics.h"
#include "tests/test_util.h"

namespace oasis {
namespace {
namespace fs = std::filesystem;

// Pearson kurtosis of a list, in long double, straight from the definition.
double reference_kurtosis(const std::vector<double>& v) {
  long double mean = 0, m2 = 0, m4 = 0;
  for (double x : v) mean += x;
  mean /= v.size();
  for (double x : v) {
    const long double d = x - mean;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= v.size();
  m4 /= v.size();
  return double(m4 / (m2 * m2));
}

TEST(Statistics, InfNormAndKurtosisMatchHandComputedValues) {
  // Sequence 0: +-1 everywhere (m2 = m4 = 1 -> kurtosis 1). Sequence 1: {0, 0, 0, 4}: mean 1, deviations
  // {-1, -1, -1, 3}, m2 = 12/4 = 3, m4 = 84/4 = 21 -> kurtosis 21/9.
  auto x = torch::tensor({1.0f, -1.0f, 1.0f, -1.0f, 0.0f, 0.0f, 0.0f, 4.0f}).view({2, 2, 2});
  SiteStats s;
  s.add(x);
  ASSERT_EQ(s.inf_norm.size(), 2u);
  EXPECT_DOUBLE_EQ(s.inf_norm[0], 1.0);
  EXPECT_DOUBLE_EQ(s.inf_norm[1], 4.0);
  EXPECT_NEAR(s.kurtosis[0], 1.0, 1e-12);
  EXPECT_NEAR(s.kurtosis[1], 21.0 / 9.0, 1e-12);
  // Per channel: channel 0 saw {1, 1, 0, 0}, channel 1 saw {-1, -1, 0, 4}.
  EXPECT_TRUE(torch::equal(s.absmax_per_channel, torch::tensor({1.0, 4.0}, torch::kDouble)));

  // A heavy-tailed random tensor against the long-double loop.
  torch::manual_seed(3);
  auto y = torch::randn({3, 17, 11}) * torch::rand({3, 17, 11}).pow(4) * 10;
  SiteStats r;
  r.add(y);
  for (int64_t b = 0; b < 3; ++b) {
    auto row = y[b].flatten().to(torch::kDouble).contiguous();
    std::vector<double> v(row.data_ptr<double>(), row.data_ptr<double>() + row.numel());
    double inf = 0;
    for (double e : v) inf = std::max(inf, std::fabs(e));
    EXPECT_DOUBLE_EQ(r.inf_norm[size_t(b)], inf);
    EXPECT_NEAR(r.kurtosis[size_t(b)], reference_kurtosis(v), 1e-9 * reference_kurtosis(v));
  }
}

TEST(Statistics, MergedMomentsEqualOnePass) {
  torch::manual_seed(4);
  auto x = torch::randn({6, 40, 8}, torch::kDouble) * 2 + 0.5;
  Moments whole, first, second;
  whole.add(x);
  first.add(x.slice(0, 0, 2));
  second.add(x.slice(0, 2, 6));
  first.merge(second);
  EXPECT_EQ(first.count, whole.count);
  for (size_t k = 0; k < 4; ++k) EXPECT_NEAR(first.sums[k], whole.sums[k], 1e-9 * std::fabs(whole.sums[k]));
  // The moments give the pooled kurtosis of all elements.
  auto flat = x.flatten().contiguous();
  std::vector<double> v(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
  EXPECT_NEAR(first.kurtosis(), reference_kurtosis(v), 1e-9);
  EXPECT_NEAR(first.mean(), x.mean().item<double>(), 1e-12);
  // A site accumulates the same moments batch by batch.
  SiteStats site;
  site.add(x.slice(0, 0, 3));
  site.add(x.slice(0, 3, 6));
  EXPECT_NEAR(site.moments.sums[3], whole.sums[3], 1e-9 * whole.sums[3]);
}

TEST(Statistics, SinksAndDepthFollowTheirDefinitions) {
  // One sequence, one head, T = 2: query 0 sees only token 0 (A = 1); query 1 puts 0.2 on token 0.
  // first_token = (1 + 0.2) / 2 = 0.6 > 0.3 -> a sink head. Rows sum to 1 and 0.8 (null 0.2 at query 1).
  auto probs = torch::tensor({1.0, 0.0, 0.2, 0.6}, torch::kDouble).view({1, 1, 2, 2});
  AttentionStats a;
  a.add_probs(probs, 1);
  EXPECT_NEAR(a.first_token[0].item<double>(), 0.6, 1e-12);
  EXPECT_NEAR(a.first_token_renorm[0].item<double>(), (1.0 + 0.25) / 2, 1e-12);
  ASSERT_EQ(a.maps.size(), 1u);
  SchemeStats s;
  s.attention["0"] = a;
  EXPECT_DOUBLE_EQ(s.summary().sink_rate, 1.0);
  s.sink_eps = 0.7;
  EXPECT_DOUBLE_EQ(s.summary().sink_rate, 0.0);

  // Depth: two sources, two tokens with weights (0.5, 0.5) and (1, 0): entropy ln 2 / 2, max weight 0.75,
  // embedding weight 0.75.
  auto w = torch::tensor({0.5, 1.0, 0.5, 0.0}, torch::kDouble).view({2, 1, 2});  // [S, B, T]
  DepthStats d;
  d.add(w, 0);
  EXPECT_NEAR(d.entropy[0].item<double>(), std::log(2.0) / 2, 1e-12);
  EXPECT_NEAR(d.max_weight[0].item<double>(), 0.75, 1e-12);
  s.depth["1.route_attn"] = d;
  EXPECT_NEAR(s.summary().depth_sink_mass, 0.75, 1e-12);
}

TEST(Statistics, ProbeSelectsSitesByGlob) {
  EXPECT_EQ(site_kind("3.attn.normed"), SiteKind::activation);
  EXPECT_EQ(site_kind("final.normed"), SiteKind::activation);
  EXPECT_EQ(site_kind("3.attn.probs"), SiteKind::attention_probs);
  EXPECT_EQ(site_kind("3.route_mlp.weights"), SiteKind::depth_weights);
  EXPECT_EQ(site_kind("3.attn.lse"), SiteKind::other);
  StatsProbe probe({"*.mlp.*", "final.*"}, 0, 0.3);
  probe.begin_batch(0, 1);
  auto x = torch::ones({1, 2, 4});
  for (const char* site : {"0.attn.normed", "0.mlp.hidden", "final.normed", "1.attn.out"}) probe.observe(site, x);
  std::vector<std::string> kept;
  for (const auto& [name, st] : probe.stats().sites) kept.push_back(name);
  EXPECT_EQ(kept, (std::vector<std::string>{"0.mlp.hidden", "final.normed"}));
}

// Statistics of an untrained model over random windows, as `oasis eval` collects them.
SchemeStats collect_tiny(const std::string& preset, int64_t sequences = 5) {
  torch::manual_seed(1);
  auto model = build_model(test::small_model(preset), 97);
  auto windows = torch::randint(0, 97, {sequences, 24}, torch::kLong);
  StatsConfig options;
  options.batch_size = 2;
  options.map_sequences = 3;
  return collect_statistics(*model, windows, options);
}

StatsMeta tiny_meta() {
  StatsMeta m;
  m.code_version = "test";
  m.config_yaml = "model:\n  preset: attnres\n";
  m.preset = "attnres";
  m.seed = 7;
  m.sequences = 5;
  m.seq_len = 24;
  return m;
}

TEST(StatsFile, RoundTripKeepsValuesAndAttributes) {
  const auto dir = test::scratch_dir();
  const SchemeStats stats = collect_tiny("oasis");
  ASSERT_EQ(stats.sequences, 5);
  ASSERT_FALSE(stats.sites.empty());
  ASSERT_FALSE(stats.depth.empty());
  write_stats_file(dir / "stats.h5", tiny_meta(), {&stats});
  EXPECT_FALSE(fs::exists(dir / ("stats.h5.tmp." + std::to_string(::getpid()))));

  const auto file = open_stats_file(dir / "stats.h5");
  EXPECT_EQ(file->read_string("/meta/config_yaml"), tiny_meta().config_yaml);
  EXPECT_EQ(file->string_attribute("/meta", "preset"), "attnres");
  EXPECT_EQ(file->number_attribute("/meta", "seed"), 7.0);
  EXPECT_EQ(file->number_attribute("/", "complete"), 1.0);
  for (const auto& [site, st] : stats.sites) {
    const auto [layer, name] = layer_and_site(site);
    const std::string g = "/fp/sites/" + layer + "/" + name;
    EXPECT_EQ(file->read(g + "/inf_norm_per_seq").values, st.inf_norm) << site;
    EXPECT_EQ(file->read(g + "/kurtosis_per_seq").values, st.kurtosis) << site;
    const H5Array moments = file->read(g + "/moments");
    EXPECT_EQ(moments.values, (std::vector<double>{st.moments.count, st.moments.sums[0], st.moments.sums[1],
                                                   st.moments.sums[2], st.moments.sums[3]}));
    EXPECT_EQ(file->string_attribute(g, "tap"), site);
  }
  const auto& route = stats.depth.at("1.route_attn");
  const H5Array w = file->read("/fp/depth/01.route_attn/weights_per_seq");
  EXPECT_EQ(w.shape, (std::vector<int64_t>{5, 2}));
  auto stored = torch::tensor(w.values, torch::kDouble).view({5, 2});
  EXPECT_TRUE(torch::equal(stored, concat_rows(route.weights)));
  const StatsSummary summary = stats.summary();
  for (const auto& m : summary_metrics()) {
    const std::string& name = m.name;
    const double value = summary.*m.value;
    const auto read = file->number_attribute("/fp/summary", name);
    ASSERT_TRUE(read.has_value()) << name;
    if (std::isnan(value))
      EXPECT_TRUE(std::isnan(*read)) << name;
    else
      EXPECT_EQ(*read, value) << name;
  }
  EXPECT_EQ(file->string_attribute("/fp/summary", "max_inf_norm_site"), summary.max_inf_norm_site);
  EXPECT_EQ(file->children("/metric_defs").size(), metric_definitions().size());
}

TEST(StatsFile, H5pyReadsEveryDataset) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  if (std::system("/usr/bin/python3 -c 'import h5py' 2>/dev/null") != 0) GTEST_SKIP() << "no h5py for /usr/bin/python3";
  const auto dir = test::scratch_dir();
  const SchemeStats stats = collect_tiny("attnres-softmax1");
  write_stats_file(dir / "stats.h5", tiny_meta(), {&stats});
  const size_t ours = open_stats_file(dir / "stats.h5")->datasets().size();
  const auto r = test::run_command("/usr/bin/python3 " + (repo_root() / "analysis" / "oasis_stats.py").string() +
                                   " --check " + (dir / "stats.h5").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ok: " + std::to_string(ours) + " datasets"), std::string::npos) << r.output;
}

TEST(StatsFile, TruncatedIncompleteAndNewerFilesAreRejected) {
  const auto dir = test::scratch_dir();
  const SchemeStats stats = collect_tiny("standard");
  write_stats_file(dir / "stats.h5", tiny_meta(), {&stats});
  const auto size = fs::file_size(dir / "stats.h5");
  fs::copy_file(dir / "stats.h5", dir / "truncated.h5");
  fs::resize_file(dir / "truncated.h5", size / 2);
  EXPECT_THROW(open_stats_file(dir / "truncated.h5"), RuntimeError);
  auto r = test::run_cli("inspect " + (dir / "truncated.h5").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("truncated or corrupt"), std::string::npos) << r.output;

  {  // a writer that stopped before `complete`
    H5Writer w(dir / "incomplete.h5");
    w.attribute("/", "schema_version", kStatsSchemaVersion);
    w.close();
  }
  r = test::run_cli("inspect " + (dir / "incomplete.h5").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("incomplete"), std::string::npos) << r.output;
  {
    H5Writer w(dir / "newer.h5");
    w.attribute("/", "schema_version", kStatsSchemaVersion + 1);
    w.attribute("/", "complete", int64_t(1));
    w.close();
  }
  r = test::run_cli("inspect " + (dir / "newer.h5").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("newer"), std::string::npos) << r.output;
  r = test::run_cli("inspect " + (dir / "stats.h5").string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("attention to the first token"), std::string::npos) << r.output;
  r = test::run_cli("inspect " + (dir / "stats.h5").string() + " /fp/sites/00/attn.normed/inf_norm_per_seq");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("shape [5]"), std::string::npos) << r.output;
}

// Stored maps: softmax rows sum to 1; softmax1 rows to 1 - null mass (float16 storage: 2e-3).
TEST(StatsFile, StoredMapRowsSumToOneOrOneMinusNullMass) {
  const auto dir = test::scratch_dir();
  for (const std::string preset : {"attnres", "attnres-softmax1"}) {
    const SchemeStats stats = collect_tiny(preset);
    write_stats_file(dir / (preset + ".h5"), tiny_meta(), {&stats});
    const auto file = open_stats_file(dir / (preset + ".h5"));
    for (const std::string layer : {"00", "01"}) {
      const H5Array maps = file->read("/fp/attention/" + layer + "/maps");
      ASSERT_EQ(maps.shape, (std::vector<int64_t>{3, 2, 24, 24}));
      auto rows = torch::tensor(maps.values, torch::kDouble).view({3, 2, 24, 24}).sum(-1);  // [K, H, T]
      if (preset == "attnres") {
        EXPECT_LT((rows - 1).abs().max().item<double>(), 2e-3) << layer;
        EXPECT_FALSE(file->exists("/fp/attention/" + layer + "/null_mass_per_seq"));
      } else {
        const H5Array nu = file->read("/fp/attention/" + layer + "/null_mass_per_seq");
        auto null_mass = torch::tensor(nu.values, torch::kDouble).view({5, 2}).slice(0, 0, 3);
        EXPECT_GT(null_mass.min().item<double>(), 0.01) << "the check needs a visible null mass";
        EXPECT_LT(((1 - rows).mean(-1) - null_mass).abs().max().item<double>(), 2e-3) << layer;
      }
    }
  }
}

// End to end: `oasis train` writes stats.h5 beside results.json; trained standard and AttnRes models store
// different numbers; `oasis eval` rewrites the file; `oasis inspect` shows depth routing for AttnRes only.
TEST(StatsEndToEnd, TrainedStandardAndAttnResStoreDifferentNumbers) {
  const auto dir = test::scratch_dir();
  std::map<std::string, nlohmann::json> results;
  for (const std::string preset : {"standard", "attnres"}) {
    Config c = test::wikitext_learning_config(dir, 120);
    c.run = preset;
    c.model.preset = preset;
    c.eval.splits = {"test"};
    c.eval.max_tokens = 2000;
    c.data.bos = true;
    results[preset] = train_and_evaluate(c);
  }
  const auto standard = open_stats_file(dir / "test" / "standard" / "stats.h5");
  const auto attnres = open_stats_file(dir / "test" / "attnres" / "stats.h5");
  const auto a = standard->read("/fp/sites/01/mlp.out/inf_norm_per_seq").values;
  const auto b = attnres->read("/fp/sites/01/mlp.out/inf_norm_per_seq").values;
  ASSERT_EQ(a.size(), 16u);
  ASSERT_EQ(b.size(), 16u);
  EXPECT_NE(a, b);
  EXPECT_NE(standard->number_attribute("/fp/summary", "max_inf_norm"), attnres->number_attribute("/fp/summary", "max_inf_norm"));
  EXPECT_FALSE(standard->exists("/fp/depth"));
  EXPECT_TRUE(attnres->exists("/fp/depth/final_route/weights_per_seq"));
  // results.json carries the same summary and where it came from.
  EXPECT_EQ(results["attnres"]["stats"]["fp"]["max_inf_norm"].get<double>(),
            *attnres->number_attribute("/fp/summary", "max_inf_norm"));
  EXPECT_EQ(results["attnres"]["stats"]["file"], "stats.h5");
  EXPECT_TRUE(results["attnres"]["timing"]["fp"].contains("stats_s"));
  // Training logged where sinks and outliers stand at its validation (metrics.jsonl).
  std::ifstream metrics(dir / "test" / "attnres" / "metrics.jsonl");
  nlohmann::json last_validation;
  for (std::string line; std::getline(metrics, line);)
    if (auto record = nlohmann::json::parse(line); record.contains("val_loss")) last_validation = record;
  ASSERT_TRUE(last_validation.contains("first_token_attention")) << last_validation.dump();
  const double first = last_validation["first_token_attention"].get<double>();
  EXPECT_GT(first, 0.0);
  EXPECT_LE(first, 1.0);
  EXPECT_GT(last_validation["max_inf_norm"].get<double>(), 0.0);
  EXPECT_GT(last_validation["depth_sink_mass"].get<double>(), 0.0);
  // Query 0 can attend only to itself.
  EXPECT_NEAR(attnres->read("/fp/attention/00/maps").values[0], 1.0, 1e-3);

  // The analysis scripts draw every figure from the two runs.
  if (std::system("/usr/bin/python3 -c 'import h5py, matplotlib' 2>/dev/null") == 0) {
    auto figures = test::run_command("/usr/bin/python3 " + (repo_root() / "analysis" / "figures.py").string() +
                                     " --out " + (dir / "figures").string() + " " + (dir / "test" / "standard").string() +
                                     " " + (dir / "test" / "attnres").string());
    ASSERT_EQ(figures.exit_code, 0) << figures.output;
    for (const char* png : {"outliers.png", "sinks.png", "attention_map_standard.png", "attention_map_attnres.png",
                            "sink_heatmap_standard.png", "depth_routing_attnres.png"})
      EXPECT_GT(fs::file_size(dir / "figures" / png), 1000u) << png;
    EXPECT_FALSE(fs::exists(dir / "figures" / "depth_routing_standard.png"));
  }

  fs::remove(dir / "test" / "attnres" / "stats.h5");
  auto r = test::run_cli("eval " + (dir / "test" / "attnres").string() + " stats.sequences=4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(open_stats_file(dir / "test" / "attnres" / "stats.h5")->read("/fp/sites/00/attn.out/inf_norm_per_seq").values.size(), 4u);
  r = test::run_cli("inspect " + (dir / "test" / "attnres" / "stats.h5").string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("depth routing"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace oasis
