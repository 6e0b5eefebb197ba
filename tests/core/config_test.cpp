// Config: composition, overrides, the settings round trip, and every error path (exit code 2 with
// file:line and key).
#include <gtest/gtest.h>

#include "framework/core/config.h"
#include "framework/data/sentencepiece_bpe.h"
#include "framework/run/sweep.h"
#include "framework/core/errors.h"
#include "framework/core/paths.h"
#include "framework/model/gates/bondarenko.h"
#include "framework/model/normalizers/clipped.h"
#include "framework/run/run_dir.h"
#include "framework/quant/scheme.h"
#include "tests/test_util.h"

namespace oasis {
namespace {
using test::scratch_dir;
using test::write_text;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

TEST(Config, DefaultsThenFileThenOverrides) {
  auto dir = scratch_dir();
  write_text(dir / "model/small.yaml", "model:\n  d_model: 64\n  n_heads: 2\n");
  write_text(dir / "train/base.yaml", "train:\n  steps: 50\n  lr: 0.01\n  warmup_steps: 10\n");
  auto file = write_text(dir / "exp.yaml", "defaults: [model/small, train/base]\ntrain:\n  steps: 70\n");
  ConfigTree tree = load_config_tree(file, dir);
  apply_overrides(tree, {"train.lr=3e-4", "model.n_layers=3", "eval.splits=[test]"});
  Config c = config_from_tree(tree);
  EXPECT_EQ(c.model.d_model, 64);     // from a default
  EXPECT_EQ(c.model.n_heads, 2);
  EXPECT_EQ(c.train.steps, 70);       // the file beats its defaults
  EXPECT_DOUBLE_EQ(c.train.lr, 3e-4); // the command line beats the file
  EXPECT_EQ(c.model.n_layers, 3);
  EXPECT_EQ(c.eval.splits, std::vector<std::string>{"test"});
  EXPECT_EQ(c.train.batch_size, TrainConfig{}.batch_size);  // untouched keys keep struct defaults
  EXPECT_EQ(tree.origin_of("train.steps"), file + ":3:3");
  EXPECT_EQ(tree.origin_of("train.lr"), "command line `train.lr=3e-4`");
}

TEST(Config, RelativeDefaultsAndNesting) {
  auto dir = scratch_dir();
  write_text(dir / "a.yaml", "defaults: [./b]\nseed: 1\n");
  write_text(dir / "b.yaml", "defaults: [./c]\nseed: 2\nrun: from-b\n");
  write_text(dir / "c.yaml", "run: from-c\nexperiment: from-c\n");
  Config c = config_from_tree(load_config_tree(dir / "a.yaml", dir));
  EXPECT_EQ(c.seed, 1);
  EXPECT_EQ(c.run, "from-b");
  EXPECT_EQ(c.experiment, "from-c");
}

TEST(Config, ResolvedYamlRoundTrips) {
  Config c;
  c.train.lr = 1e-5;
  c.model.norm_eps = 1e-6;
  c.eval.splits = {"valid"};
  const std::string yaml = config_to_yaml(c);
  EXPECT_NE(yaml.find("lr: 1e-05"), std::string::npos) << yaml;
  Config back = config_from_tree(config_tree_from_string(yaml, "saved"));
  EXPECT_EQ(config_to_yaml(back), yaml);
  EXPECT_EQ(config_rows(back), config_rows(c));
}

// Run configs load as run configs; configs/quant holds quantization schemes, which load as schemes.
TEST(Config, RepoConfigsAllLoad) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(configs_root()))
    if (entry.path().extension() == ".yaml") {
      if (entry.path().parent_path() == quant_configs_dir())
        EXPECT_NO_THROW(load_quant_scheme(entry.path().stem().string())) << entry.path();
      else if (entry.path().parent_path().filename() == "experiments")  // experiments may sweep
        EXPECT_NO_THROW(load_experiment(entry.path(), {})) << entry.path();
      else
        EXPECT_NO_THROW(load_config(entry.path(), {})) << entry.path();
    }
}

TEST(ConfigErrors, UnknownKeySuggestsAndPointsAtTheLine) {
  auto dir = scratch_dir();
  auto file = write_text(dir / "x.yaml", "seed: 1\ntrain:\n  steps: 5\n  stepz: 9\n");
  const std::string e = error_of([&] { load_config(file, {}); });
  EXPECT_NE(e.find(file + ":4:3"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'train.stepz'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'steps'"), std::string::npos) << e;
}

TEST(ConfigErrors, UnknownTopLevelSection) {
  auto dir = scratch_dir();
  auto file = write_text(dir / "x.yaml", "modle:\n  d_model: 5\n");
  const std::string e = error_of([&] { load_config(file, {}); });
  EXPECT_NE(e.find("unknown key 'modle'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'model'"), std::string::npos) << e;
}

TEST(ConfigErrors, WrongTypes) {
  auto dir = scratch_dir();
  auto file = write_text(dir / "x.yaml", "train:\n  steps: many\n");
  std::string e = error_of([&] { load_config(file, {}); });
  EXPECT_NE(e.find(file + ":2:3: train.steps: expected an integer, got 'many'"), std::string::npos) << e;
  e = error_of([&] { load_config(file, {"train.steps=2.5"}); });
  EXPECT_NE(e.find("command line `train.steps=2.5`: train.steps: expected an integer, got '2.5'"), std::string::npos) << e;
  e = error_of([&] { load_config(file, {"train.steps=1", "data.bos=yes"}); });
  EXPECT_NE(e.find("data.bos: expected true or false"), std::string::npos) << e;
  e = error_of([&] { load_config(file, {"train.steps=1", "train=3"}); });
  EXPECT_NE(e.find("train: expected a section"), std::string::npos) << e;
  e = error_of([&] { load_config(file, {"train.steps=1", "eval.splits=valid"}); });
  EXPECT_NE(e.find("eval.splits: expected a list of strings"), std::string::npos) << e;
}

TEST(ConfigErrors, OutOfRangeAndChoices) {
  auto dir = scratch_dir();
  auto file = write_text(dir / "x.yaml", "train:\n  lr: -1\n");
  std::string e = error_of([&] { load_config(file, {}); });
  EXPECT_NE(e.find("train.lr: expected a value in [0, 10], got '-1'"), std::string::npos) << e;
  e = error_of([&] { load_config(file, {"train.lr=0.1", "model.preset=standrd"}); });
  EXPECT_NE(e.find("model.preset: expected one of"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'standard'"), std::string::npos) << e;
  e = error_of([&] { load_config(file, {"train.lr=0.1", "eval.splits=[valid, tset]"}); });
  EXPECT_NE(e.find("'tset' is none of them (did you mean 'test'?)"), std::string::npos) << e;
}

TEST(ConfigErrors, CrossFieldRules) {
  auto dir = scratch_dir();
  auto file = write_text(dir / "x.yaml", "model:\n  d_model: 64\n  n_heads: 3\n");
  std::string e = error_of([&] { load_config(file, {}); });
  EXPECT_NE(e.find(file + ":3:3: model.n_heads: expected a divisor of model.d_model=64 (or an explicit model.head_dim), "
                   "got 3"),
            std::string::npos)
      << e;
  // An explicit head width lifts the rule (3 heads of 16 on d_model 64), but RoPE needs it even.
  EXPECT_NO_THROW(load_config(file, {"model.head_dim=16"}));
  e = error_of([&] { load_config(file, {"model.head_dim=15"}); });
  EXPECT_NE(e.find("model.head_dim: expected an even head size (RoPE rotates pairs), got 15"), std::string::npos) << e;
  e = error_of([&] { load_config(file, {"model.n_heads=4", "data.seq_len=2048", "model.max_seq_len=1024"}); });
  EXPECT_NE(e.find("data.seq_len: expected at most model.max_seq_len=1024, got 2048"), std::string::npos) << e;
  e = error_of([&] { load_config(file, {"model.n_heads=4", "eval.context_len=64", "eval.stride=65"}); });
  EXPECT_NE(e.find("eval.stride: expected at most the context length 64"), std::string::npos) << e;
  e = error_of([&] { load_config(file, {"model.n_heads=4", "data.dataset=text"}); });
  EXPECT_NE(e.find("data.text.path: expected the path of a text file"), std::string::npos) << e;
  e = error_of([&] { load_config(file, {"model.n_heads=4", "train.steps=10", "train.warmup_steps=20"}); });
  EXPECT_NE(e.find("train.warmup_steps: expected at most train.steps=10"), std::string::npos) << e;
}

TEST(ConfigErrors, HostileValuesAndFiles) {
  auto dir = scratch_dir();
  auto file = write_text(dir / "x.yaml", "train:\n  steps: 10\n");
  std::string e = error_of([&] { load_config(file, {"train.lr=1e999"}); });
  EXPECT_NE(e.find("train.lr: expected a finite number, got '1e999'"), std::string::npos) << e;
  auto twice = write_text(dir / "twice.yaml", "train:\n  steps: 10\n  lr: 0.1\n  steps: 20\n");
  e = error_of([&] { load_config(twice, {}); });
  EXPECT_NE(e.find(twice + ":4:3: duplicate key 'steps' (first given at line 2)"), std::string::npos) << e;
  auto empty = write_text(dir / "empty.yaml", "# only a comment\n");
  e = error_of([&] { load_config(empty, {}); });
  EXPECT_NE(e.find(empty + ": the config file is empty"), std::string::npos) << e;
  e = error_of([&] { load_config(file, {"model={preset: oasis}"}); });
  EXPECT_NE(e.find("a whole section cannot be set at once; set its keys one by one (model.KEY=VALUE)"),
            std::string::npos) << e;
  // A length derived from another names the key the user wrote, not the derived one.
  e = error_of([&] { load_config(file, {"eval.context_len=4096"}); });
  EXPECT_NE(e.find("eval.context_len: expected at most model.max_seq_len"), std::string::npos) << e;
}

TEST(ConfigErrors, ComponentNamesComeFromTheRegistriesAndOptionsFromTheirSections) {
  auto dir = scratch_dir();
  auto file = write_text(dir / "x.yaml", "model:\n  preset: attnres-clipped\n");
  std::string e = error_of([&] { load_config(file, {"model.normalizer=softmx"}); });
  EXPECT_NE(e.find("did you mean 'softmax'"), std::string::npos) << e;
  EXPECT_NE(e.find("sigmoid"), std::string::npos) << e;  // registered in its own file
  e = error_of([&] { load_config(file, {"model.gate=bondarenk"}); });
  EXPECT_NE(e.find("qwen_elementwise"), std::string::npos) << e;
  const Config c = load_config(file, {"model.clipped.alpha=3", "model.bondarenko.init=0.5"});
  EXPECT_EQ(c.model.components.get<ClippedOptions>("clipped").alpha, 3.0);
  EXPECT_EQ(c.model.components.get<BondarenkoOptions>("bondarenko").init, 0.5);
  e = error_of([&] { load_config(file, {"model.clipped.alfa=3"}); });
  EXPECT_NE(e.find("unknown key 'model.clipped.alfa' (did you mean 'alpha'?); valid keys in model.clipped: alpha"),
            std::string::npos) << e;
  // Keys that moved into their component's section name the new key ...
  e = error_of([&] { load_config(file, {"model.clip_alpha=3"}); });
  EXPECT_NE(e.find("model.clip_alpha: this key was renamed; write model.clipped.alpha instead"), std::string::npos) << e;
  auto old = write_text(dir / "old.yaml", "model:\n  gate_init: 0.5\n");
  e = error_of([&] { load_config(old, {}); });
  EXPECT_NE(e.find(old + ":2:3: model.gate_init: this key was renamed; write model.bondarenko.init"), std::string::npos)
      << e;
  e = error_of([&] { load_config(file, {"data.vocab_size=512"}); });
  EXPECT_NE(e.find("data.vocab_size: this key was renamed; write data.sentencepiece.vocab_size instead"),
            std::string::npos) << e;
  e = error_of([&] { load_config(file, {"data.dataset=text", "data.path=/x.txt"}); });
  EXPECT_NE(e.find("data.path: this key was renamed; write data.text.path instead"), std::string::npos) << e;
  // ... while a run directory written before the move still loads, its values moved to the new keys.
  write_text(dir / "run" / "config.yaml",
             "experiment: x\nmodel:\n  preset: attnres-clipped\n  clip_alpha: 6\n  clip_zeta: 1\n  clip_length: 0\n"
             "  gate_init: 0.25\ndata:\n  tokenizer: sentencepiece\n  vocab_size: 1024\n  path: \"\"\n");
  const Config saved = load_run_config(dir / "run", {});
  EXPECT_EQ(saved.model.components.get<ClippedOptions>("clipped").alpha, 6.0);
  EXPECT_EQ(saved.data.components.get<SentencePieceOptions>("sentencepiece").vocab_size, 1024);
  // The resolved config writes each section, and reads back the same.
  const std::string yaml = config_to_yaml(c);
  EXPECT_NE(yaml.find("clipped:\n    alpha: 3"), std::string::npos) << yaml;
  EXPECT_EQ(config_to_yaml(config_from_tree(config_tree_from_string(yaml, "saved"))), yaml);
}

TEST(ConfigErrors, NamesCannotEscapeTheRunsDirectory) {
  auto dir = scratch_dir();
  auto file = write_text(dir / "x.yaml", "experiment: ../../etc\n");
  std::string e = error_of([&] { load_config(file, {}); });
  EXPECT_NE(e.find("experiment: expected a name of letters"), std::string::npos) << e;
  for (const char* bad : {"run=a/b", "run=..", "run=.hidden", "run=''", "experiment=x;rm -rf"}) {
    e = error_of([&] { load_config(file, {"experiment=ok", bad}); });
    EXPECT_NE(e.find("expected a name of letters"), std::string::npos) << bad << ": " << e;
  }
  EXPECT_EQ(load_config(file, {"experiment=ok-1.2_b", "run=seed_3"}).run_dir(),
            std::filesystem::path("runs/ok-1.2_b/seed_3"));
}

TEST(ConfigErrors, BadFilesAndDefaults) {
  auto dir = scratch_dir();
  std::string e = error_of([&] { load_config(dir / "missing.yaml", {}); });
  EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
  auto syntax = write_text(dir / "syntax.yaml", "train:\n  steps: [1, 2\n");
  e = error_of([&] { load_config(syntax, {}); });
  EXPECT_NE(e.find(syntax + ":"), std::string::npos) << e;
  EXPECT_NE(e.find("YAML syntax error"), std::string::npos) << e;
  write_text(dir / "model/standard.yaml", "model:\n  d_model: 64\n");
  auto typo = write_text(dir / "typo.yaml", "defaults: [model/standrd]\n");
  e = error_of([&] { load_config_tree(typo, dir); });
  EXPECT_NE(e.find(typo + ":1:12: defaults entry 'model/standrd' names no config file"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'standard'"), std::string::npos) << e;
  auto cycle = write_text(dir / "cycle.yaml", "defaults: [./cycle]\n");
  e = error_of([&] { load_config_tree(cycle, dir); });
  EXPECT_NE(e.find("cycle"), std::string::npos) << e;
  auto list = write_text(dir / "list.yaml", "- a\n- b\n");
  e = error_of([&] { load_config(list, {}); });
  EXPECT_NE(e.find("expected a mapping"), std::string::npos) << e;
}

TEST(ConfigErrors, MalformedOverrides) {
  ConfigTree tree;
  for (const char* bad : {"train.steps", "=5", "train..steps=5", "1abc=2"}) {
    const std::string e = error_of([&] { apply_overrides(tree, {bad}); });
    EXPECT_NE(e.find("command line"), std::string::npos) << bad << ": " << e;
  }
  apply_overrides(tree, {"seed=3"});
  const std::string e = error_of([&] { apply_overrides(tree, {"seed.x=1"}); });
  EXPECT_NE(e.find("'seed' is a value, not a section"), std::string::npos) << e;
}

TEST(ConfigCli, ExitCodesAndMessages) {
  auto dir = scratch_dir();
  auto file = write_text(dir / "x.yaml", "train:\n  stepz: 5\n");
  auto r = test::run_cli("train " + file);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("error: " + file + ":2:3: unknown key 'train.stepz'"), std::string::npos) << r.output;
  r = test::run_cli("train " + file + " train.stepz=");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = test::run_cli("trian");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("did you mean 'train'"), std::string::npos) << r.output;
  r = test::run_cli("train --bogus");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  for (const char* help : {"--help", "train --help", "eval --help", "models --help"}) {
    r = test::run_cli(help);
    EXPECT_EQ(r.exit_code, 0) << help << r.output;
    EXPECT_NE(r.output.find("usage: oasis"), std::string::npos) << help;
  }
  r = test::run_cli("train --help");
  EXPECT_NE(r.output.find("train.steps"), std::string::npos);  // every key is listed with its help
  r = test::run_cli("models");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("standard"), std::string::npos);
  r = test::run_cli("eval " + dir.string() + "/nowhere");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("is not a run directory"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace oasis
