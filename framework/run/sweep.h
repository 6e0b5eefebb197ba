// An experiment: one YAML config whose `sweep:` section makes it a grid of cells, each a complete run.
//   sweep:
//     model.preset: [standard, attnres, oasis]   # an axis: a dotted key (nested maps work too) and its values
//     seed: [0, 1, 2]
//     zip:                                        # groups whose axes move together (equal lengths)
//       - {data.dataset: [wikitext2, ptb], data.seq_len: [256, 128]}
// Cells are the cross product of the axes and zip groups, in file order (the first varies slowest).
// Command-line overrides apply to every cell; a swept key is changed through its axis
// (`sweep.seed=[0]`). A cell's id is preset-dataset-sSEED-HASH, HASH a 6-hex digest of the
// result-relevant keys (run_dir.h) that differ from their defaults: stable across machines,
// evaluation-only edits and code versions that add keys. The `slurm:` section holds cluster resources
// (run/slurm.h).
#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/config.h"

namespace oasis {

struct SlurmConfig {
  std::string partition;
  std::string account;
  std::string time = "04:00:00";
  int64_t cpus_per_task = 2;
  std::string mem;        // e.g. 16G; empty: the cluster's default
  std::string gres;       // e.g. gpu:1
  int64_t max_parallel = 0;  // array throttle (%N); 0 = no limit
  std::vector<std::string> setup;  // shell lines run before each task (module load, source venv, ...)

  template <class V>
  void visit(V& v) {
    v.field("partition", partition, "sbatch --partition (empty: the cluster's default)");
    v.field("account", account, "sbatch --account (empty: none)");
    v.field("time", time, "sbatch --time per cell");
    v.field("cpus_per_task", cpus_per_task, "sbatch --cpus-per-task (also the cell's threads)", between<int64_t>(1, 1024));
    v.field("mem", mem, "sbatch --mem (empty: the cluster's default)");
    v.field("gres", gres, "sbatch --gres, e.g. gpu:1 (empty: none)");
    v.field("max_parallel", max_parallel, "array tasks running at once; 0 = no limit", between<int64_t>(0, 1 << 20));
    v.field("setup", setup, "shell lines run before each task, e.g. module load cuda");
  }
};

struct SweepCell {
  std::string id;
  std::vector<std::pair<std::string, std::string>> values;  // axis -> value (flow YAML), in axis order
  Config config;                                            // resolved, run = id
  std::filesystem::path dir() const { return config.run_dir(); }
};

struct Experiment {
  std::filesystem::path file;
  std::vector<std::string> overrides;
  std::vector<std::string> axes;
  std::vector<SweepCell> cells;
  SlurmConfig slurm;
  std::filesystem::path dir;  // runs_dir/experiment
};

// Reads, expands and validates every cell (a bad value fails naming the cell and the key).
Experiment load_experiment(const std::filesystem::path& file, const std::vector<std::string>& overrides);

// The cell id of a resolved config.
std::string cell_id(const Config& config);

// <runs_dir>/<experiment>/plan.json: every cell's id, preset, dataset, seed and axis values, so the
// report can show planned cells that are missing.
void write_plan(const Experiment& experiment);

const SweepCell& find_cell(const Experiment& experiment, const std::string& id);  // ConfigError listing ids

}  // namespace oasis
