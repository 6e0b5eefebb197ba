// `oasis bench` measures in child processes (its own binary, or ranks under torchrun), each of which
// prints one tagged line of JSON that the parent reads back: one tag, one reader, one printer.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace oasis {

struct BenchChild {
  nlohmann::json result;
  double peak_rss_mb = 0;  // the child's (with torchrun: its largest process's)
};

// Runs `argv` (argv[0] the program) and returns its last tagged line; a RuntimeError with the end of its
// output when it fails or prints none. `with_stderr`: stderr joins the output read (else it passes through).
BenchChild run_bench_child(const std::vector<std::string>& argv, bool with_stderr);

// The child's side: the tagged line on stdout.
void print_bench_result(const nlohmann::json& result);

}  // namespace oasis
