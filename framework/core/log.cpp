#include "framework/core/log.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

namespace oasis {

namespace {
bool bar_visible = false;
bool quiet = false;
}  // namespace

void set_console_quiet(bool on) { quiet = on; }

bool Progress::interactive() {
  static const bool tty = ::isatty(STDERR_FILENO) == 1;
  return tty && !quiet;
}

void print_table(const std::string& title, const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t key_width = 9, value_width = 5;
  for (const auto& [k, v] : rows) {
    key_width = std::max(key_width, k.size());
    value_width = std::max(value_width, std::min<size_t>(v.size(), 80));
  }
  const std::string rule = fmt::format("+{:-<{}}+{:-<{}}+", "", key_width + 2, "", value_width + 2);
  std::string out = fmt::format("{}\n| {:<{}} |\n{}\n", rule, title, key_width + value_width + 3, rule);
  for (const auto& [k, v] : rows) out += fmt::format("| {:<{}} | {:<{}} |\n", k, key_width, v, value_width);
  out += rule + "\n";
  log_line(out.substr(0, out.size() - 1));
}

void log_line(const std::string& line) {
  if (quiet) return;
  if (bar_visible) {
    std::fputs("\r\033[K", stderr);
    bar_visible = false;
  }
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

Progress::Progress(std::string label, int64_t total, int64_t start)
    : label_(std::move(label)), total_(total), start_(start), t0_(std::chrono::steady_clock::now()) {}

void Progress::update(int64_t done, const std::string& status) {
  if (!interactive() || total_ <= 0) return;
  const double frac = std::clamp(double(done) / double(total_), 0.0, 1.0);
  const int width = 30;
  const int filled = int(frac * width);
  const double elapsed = seconds_since(t0_);
  const double rate = done > start_ ? (done - start_) / elapsed : 0.0;
  const double eta = rate > 0 ? (total_ - done) / rate : 0.0;
  std::fputs(fmt::format("\r\033[K{} [{}{}] {}/{} {} eta {:.0f}s", label_, std::string(filled, '#'),
                         std::string(width - filled, '.'), done, total_, status, eta)
                 .c_str(),
             stderr);
  std::fflush(stderr);
  bar_visible = true;
}

void Progress::finish() {
  if (bar_visible) {
    std::fputs("\r\033[K", stderr);
    bar_visible = false;
  }
}

namespace {
// Characters as a terminal shows them: UTF-8 continuation bytes (as in "±", "Δ") take no column.
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
}  // namespace

std::string markdown_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 3);
  for (size_t c = 0; c < header.size(); ++c) width[c] = std::max(width[c], display_width(header[c]));
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], display_width(row[c]));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out = "|";
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      out += " " + cell + std::string(width[c] - display_width(cell), ' ') + " |";
    }
    return out + "\n";
  };
  std::string out = line(header) + "|";
  for (size_t w : width) out += std::string(w + 2, '-') + "|";
  out += "\n";
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace oasis
