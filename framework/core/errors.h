// Two kinds of failure, two exit codes: the user's input was wrong (2) or the run failed (1); plus one
// that is not a failure: the run directory is being worked on by another process (3).
// Every message names the key, file, line or step involved and what was expected.
#pragma once
#include <stdexcept>
#include <string>

namespace oasis {

// A bad config, a bad command line, an unsafe name: exit code 2.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A missing dataset, a NaN loss, a corrupt checkpoint: exit code 1.
struct RuntimeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Another live process holds the run directory's lock: exit code 3 (the sweep runner retries later).
struct RunInUse : RuntimeError {
  using RuntimeError::RuntimeError;
};

// An exception's message without the C++ backtrace that LibTorch's c10::Error appends to what().
std::string message_without_backtrace(const std::exception& error);

}  // namespace oasis
