// `oasis run`: a sweep's cells as local processes. Each cell runs `oasis run FILE [overrides] --cell ID`
// in its own process (threads split between jobs), output appended to <cell>/log.txt. Finished cells
// (DONE) are skipped, interrupted ones resume from their newest checkpoint, and a cell whose lock is held
// by another live process (a second runner, a Slurm task) is retried until that process finishes it.
// Children die with the runner (PR_SET_PDEATHSIG), so a killed runner leaves no orphan holding a cell.
#pragma once
#include <cstdint>
#include <string>

#include "framework/run/sweep.h"

namespace oasis {

struct RunnerOptions {
  int64_t jobs = 1;
  bool dry_run = false;
  double progress_every_s = 30;  // seconds between progress lines (also printed on every change)
};

// The plan as a table: cell id, its axis values, status (done / partial at step N / pending).
std::string plan_table(const Experiment& experiment);

// Runs every unfinished cell; returns the number of cells that failed.
int64_t run_cells(const Experiment& experiment, const RunnerOptions& options);

// `--cell ID`: one cell in this process (what the runner's children and Slurm tasks do).
void run_one_cell(const Experiment& experiment, const std::string& id);

}  // namespace oasis
