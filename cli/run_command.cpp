// `oasis run EXPERIMENT.yaml [key=value...] [--jobs N] [--dry-run] [--cell ID] [--slurm [--submit]]`:
// expands the sweep, prints the plan, then runs the unfinished cells locally, or one cell, or writes
// (and submits) a Slurm job array.
#include <cstdio>
#include <sstream>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "framework/core/errors.h"
#include "framework/run/runner.h"
#include "framework/run/slurm.h"
#include "framework/run/sweep.h"

namespace oasis {

int cmd_run(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  po::options_description options("run options");
  int64_t jobs = 1;
  std::string cell;
  options.add_options()("help,h", "show this help")("jobs,j", po::value(&jobs)->default_value(1),
                                                    "cells run at once (the cores are split between them)")(
      "dry-run", "print the plan (cells, axis values, status) and stop")(
      "cell", po::value(&cell), "run only this cell, in this process (what each job and Slurm task does)")(
      "slurm", "write an sbatch job array (one task per unfinished cell) instead of running")(
      "submit", "with --slurm: also submit it with sbatch");
  const ParsedArgs parsed = parse_command(args, "run", options);
  if (parsed.help) {
    print_help(
        "usage: oasis run EXPERIMENT.yaml [key=value...] [--jobs N] [--dry-run] [--cell ID] [--slurm [--submit]]\n\n"
        "Runs every cell of the experiment's `sweep:` grid (one cell without a sweep) in\n"
        "runs_dir/experiment/CELL_ID. Finished cells are skipped, interrupted ones resume from their newest\n"
        "checkpoint, and a cell held by another process is left to it. Overrides apply to every cell; change a\n"
        "swept key through its axis, e.g. 'sweep.seed=[0,1]'. See docs/sweeps.md.\n\n",
        options);
    return 0;
  }
  if (parsed.positional.empty()) throw ConfigError("oasis run: expected an EXPERIMENT file (see `oasis run --help`)");
  if (jobs < 1) throw ConfigError("oasis run: --jobs must be >= 1");
  const std::vector<std::string> overrides(parsed.positional.begin() + 1, parsed.positional.end());
  const Experiment experiment = load_experiment(parsed.positional[0], overrides);
  if (!cell.empty()) {
    run_one_cell(experiment, cell);
    return 0;
  }
  if (parsed.has("slurm")) {
    write_slurm_job(experiment, parsed.has("submit"));
    return 0;
  }
  if (parsed.has("submit")) throw ConfigError("oasis run: --submit goes with --slurm");
  RunnerOptions runner;
  runner.jobs = jobs;
  runner.dry_run = parsed.has("dry-run");
  return run_cells(experiment, runner) == 0 ? 0 : 1;
}

}  // namespace oasis
