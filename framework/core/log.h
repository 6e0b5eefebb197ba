// Console output in llm.c style: a boxed settings table at start, terse key:value lines, and a progress
// bar that redraws in place on a terminal and degrades to plain lines when piped.
#pragma once
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace oasis {

// Wall seconds since `start` (steady clock): the one timer behind tokens/s and stage timings.
double seconds_since(std::chrono::steady_clock::time_point start);

// The current time as ISO 8601 UTC ("2026-12-01T13:58:50Z"): when an artifact was written.
std::string utc_now();

void print_table(const std::string& title, const std::vector<std::pair<std::string, std::string>>& rows);

// A Markdown table (pipes, header rule), columns padded to their widest cell so it also reads as text.
std::string markdown_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// Prints a line to stdout (clearing any progress bar first).
void log_line(const std::string& line);

// Silences log_line, tables and progress bars: the ranks other than 0 of a multi-process run, whose
// output would repeat rank 0's. Errors still reach stderr.
void set_console_quiet(bool on);

class Progress {
 public:
  Progress(std::string label, int64_t total, int64_t start = 0);
  // `status` is appended to the bar (loss, tok/s); on a terminal the bar redraws, otherwise nothing is
  // printed here and callers emit their own plain lines.
  void update(int64_t done, const std::string& status);
  void finish();
  static bool interactive();

 private:
  std::string label_;
  int64_t total_, start_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace oasis
