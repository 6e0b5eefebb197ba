// Running another program to completion and reading what it printed: `oasis bench` runs itself once per
// preset for peak memory, `oasis run --slurm --submit` runs sbatch.
#pragma once
#include <string>
#include <vector>

namespace oasis {

struct ProcessResult {
  int exit_code = -1;       // -1 when it did not exit normally (a signal); 127 when it could not be started
  std::string output;       // stdout (and stderr with `with_stderr`)
  double peak_rss_mb = 0;   // its peak resident memory
};

// Runs `argv` (argv[0] is the program: a path, or a name looked up in PATH) and waits for it.
ProcessResult run_process(const std::vector<std::string>& argv, bool with_stderr);

}  // namespace oasis
