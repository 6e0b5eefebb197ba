// `oasis run EXPERIMENT --slurm [--submit]`: an sbatch job array with one task per unfinished cell, each
// running `oasis run EXPERIMENT [overrides] --cell ID` (so locks, resume and DONE work as locally).
// Every value that reaches the script is single-quoted for the shell; #SBATCH directive values must be
// plain tokens (letters, digits, . _ - : / = @ % + ,) or the script is refused; task output goes to
// <cell>/slurm.log through a quoted shell redirect, never through a directive. With dist.nodes x
// dist.procs_per_node > 1 each array task asks for that many tasks and starts them with `srun`, after
// exporting MASTER_ADDR (the first node) and MASTER_PORT (from the job id) for the rendezvous.
#pragma once
#include <filesystem>
#include <string>

#include "framework/run/sweep.h"

namespace oasis {

// A shell word that bash reads back as exactly `text`.
std::string shell_quote(const std::string& text);

// The script for the cells not yet DONE ("" when none is left). `binary` is the oasis executable.
std::string sbatch_script(const Experiment& experiment, const std::filesystem::path& binary);

// Writes <runs_dir>/<experiment>/slurm/array.sbatch; with `submit`, runs sbatch on it and returns its
// output (the job id). Returns the script path otherwise.
std::string write_slurm_job(const Experiment& experiment, bool submit);

}  // namespace oasis
