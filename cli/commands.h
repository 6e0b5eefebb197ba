// Subcommands of the `oasis` CLI that live in their own files.
#pragma once
#include <string>
#include <vector>

namespace oasis {

// oasis bench CONFIG [key=value...] [--presets a,b] [--steps N] [--warmup N] [--out FILE]
int cmd_bench(const std::vector<std::string>& args);

// oasis run EXPERIMENT.yaml [key=value...] [--jobs N] [--dry-run] [--cell ID] [--slurm [--submit]]
int cmd_run(const std::vector<std::string>& args);

// oasis report RUNS_DIR [--format md|csv|latex] [--out FILE]
int cmd_report(const std::vector<std::string>& args);

// oasis inspect FILE.h5 [PATH]
int cmd_inspect(const std::vector<std::string>& args);

// oasis import-hf DIR --out RUN_DIR [key=value...]; oasis export-hf RUN_DIR --out DIR
int cmd_import_hf(const std::vector<std::string>& args);
int cmd_export_hf(const std::vector<std::string>& args);

}  // namespace oasis
