#include "framework/run/runner.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <deque>
#include <fstream>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/core/errors.h"
#include "framework/core/json_file.h"
#include "framework/core/log.h"
#include "framework/core/paths.h"
#include "framework/core/runtime.h"
#include "framework/core/text.h"
#include "framework/dist/launch_env.h"
#include "framework/run/pipeline.h"
#include "framework/run/run_dir.h"
#include "framework/train/checkpoint.h"

namespace oasis {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string cell_status(const SweepCell& cell) {
  if (run_is_done(cell.dir())) return "done";
  if (auto newest = newest_complete_checkpoint(cell.dir())) return "partial (" + newest->filename().string() + ")";
  return "pending";
}

std::string minutes(double seconds) {
  return fmt::format("{}m{:02d}s", int64_t(seconds) / 60, int64_t(seconds) % 60);
}

// Processes a cell runs as (dist.procs_per_node on one node): the job slots it takes.
int64_t cell_processes(const SweepCell& cell) {
  const DistConfig& d = cell.config.dist;
  if (d.nodes > 1)
    throw ConfigError(fmt::format("cell {}: dist.nodes = {} needs a cluster; run it with `oasis run --slurm`, or set "
                                  "dist.nodes=1 to run dist.procs_per_node processes on this machine",
                                  cell.id, d.nodes));
  return d.procs_per_node;
}

// Starts `oasis run FILE overrides... --cell ID threads=T` with stdout+stderr appended to <cell>/log.txt;
// a cell of several processes runs under `torchrun --standalone --nproc-per-node P --no-python`.
pid_t start_cell(const Experiment& e, const SweepCell& cell, int64_t threads) {
  fs::create_directories(cell.dir());
  const std::string log = (cell.dir() / "log.txt").string();
  const int64_t processes = cell_processes(cell);
  std::vector<std::string> args =
      processes > 1 ? torchrun_command(processes, fs::read_symlink("/proc/self/exe")) : std::vector<std::string>{"oasis"};
  args.insert(args.end(), {"run", e.file.string()});
  args.insert(args.end(), e.overrides.begin(), e.overrides.end());
  args.insert(args.end(), {"--cell", cell.id, fmt::format("threads={}", std::max<int64_t>(1, threads / processes))});
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw RuntimeError("oasis run: fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);       // the runner's death (even SIGKILL) ends the cell
    if (::getppid() != parent) ::_exit(127);  // the runner died before prctl took effect
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) ::_exit(126);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(processes > 1 ? args[0].c_str() : "/proc/self/exe", argv.data());
    ::_exit(127);
  }
  return pid;
}

std::string last_lines(const fs::path& file, size_t n) {
  std::ifstream in(file);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > n) lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines) out += "    " + l + "\n";
  return out;
}

// One line per finished cell: its headline numbers.
std::string cell_summary(const SweepCell& cell) {
  const fs::path file = cell.dir() / "results.json";
  if (!fs::exists(file)) return "";
  const auto r = read_json_file(file);
  std::string out;
  if (r.contains("perplexity"))
    for (const auto& [scheme, splits] : r["perplexity"].items())
      for (const auto& [split, numbers] : splits.items())
        if (numbers.contains("perplexity")) out += fmt::format(" {} {} ppl {:.2f}", scheme, split, numbers["perplexity"].get<double>());
  return out;
}

}  // namespace

std::string plan_table(const Experiment& e) {
  std::vector<std::string> header = {"#", "cell"};
  header.insert(header.end(), e.axes.begin(), e.axes.end());
  header.push_back("status");
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < e.cells.size(); ++i) {
    std::vector<std::string> row = {std::to_string(i), e.cells[i].id};
    for (const auto& [axis, value] : e.cells[i].values) row.push_back(value);
    row.push_back(cell_status(e.cells[i]));
    rows.push_back(std::move(row));
  }
  return markdown_table(header, rows);
}

int64_t run_cells(const Experiment& e, const RunnerOptions& options) {
  log_line(fmt::format("experiment {} | {} cells | {}", e.file.string(), e.cells.size(), e.dir.string()));
  log_line(plan_table(e));
  if (options.dry_run) return 0;
  write_plan(e);

  const int64_t threads = std::max<int64_t>(1, resolve_threads(e.cells.front().config.threads) / options.jobs);
  std::deque<const SweepCell*> queue;
  for (const auto& c : e.cells)
    if (!run_is_done(c.dir())) queue.push_back(&c);
  const size_t total = e.cells.size();
  size_t done = total - queue.size();
  std::vector<std::string> failed;
  struct Running {
    const SweepCell* cell;
    Clock::time_point start;
  };
  std::map<pid_t, Running> running;
  int64_t slots_in_use = 0;  // a cell of P processes takes P of the --jobs slots
  std::map<const SweepCell*, Clock::time_point> busy_until;  // held by another process: retry after
  const auto t0 = Clock::now();
  auto last_progress = Clock::now() - std::chrono::hours(1);
  bool changed = true;
  log_line(fmt::format("run: {} to do, {} done already | {} jobs x {} threads", queue.size(), done, options.jobs, threads));

  while (!queue.empty() || !running.empty()) {
    // Launch what can run now; cells another process holds wait their turn at the back.
    for (size_t tries = queue.size(); tries > 0 && slots_in_use < options.jobs && !queue.empty(); --tries) {
      const SweepCell* cell = queue.front();
      queue.pop_front();
      if (run_is_done(cell->dir())) {  // finished meanwhile by another runner
        ++done;
        changed = true;
        continue;
      }
      if (auto it = busy_until.find(cell); it != busy_until.end() && Clock::now() < it->second) {
        queue.push_back(cell);
        continue;
      }
      const int64_t processes = cell_processes(*cell);
      if (!running.empty() && slots_in_use + processes > options.jobs) {  // alone, a wide cell may take every slot
        queue.push_front(cell);
        break;
      }
      if (processes > 1 && run_dir_in_use(cell->dir())) {  // spares a torchrun start that would find it busy
        busy_until[cell] = Clock::now() + std::chrono::seconds(2);
        queue.push_back(cell);
        continue;
      }
      running[start_cell(e, *cell, threads * std::min(processes, options.jobs))] = {cell, Clock::now()};
      slots_in_use += processes;
      log_line(fmt::format("start {} (log: {})", cell->id, (cell->dir() / "log.txt").string()));
      changed = true;
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0 && running.count(pid)) {
      const Running r = running[pid];
      running.erase(pid);
      slots_in_use -= cell_processes(*r.cell);
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      // torchrun reports any failed worker as 1, so a cell of several processes whose rank 0 found the
      // lock held ("busy", exit 3) is told apart by the cell itself: still held, or finished meanwhile by
      // the holder. (Our own rank 0 holding the lock and failing leaves it neither.)
      if (code != 0 && cell_processes(*r.cell) > 1 && (run_dir_in_use(r.cell->dir()) || run_is_done(r.cell->dir())))
        code = 3;
      const double took = seconds_since(r.start);
      if (code == 0) {
        ++done;
        log_line(fmt::format("done  {} in {}{}", r.cell->id, minutes(took), cell_summary(*r.cell)));
      } else if (code == 3) {  // another live process holds the cell
        log_line(fmt::format("busy  {}: another process is running it; retrying later", r.cell->id));
        busy_until[r.cell] = Clock::now() + std::chrono::seconds(2);
        queue.push_back(r.cell);
      } else {
        failed.push_back(r.cell->id);
        log_line(fmt::format("FAIL  {} (exit {}) after {}; last lines of {}:\n{}", r.cell->id, code, minutes(took),
                             (r.cell->dir() / "log.txt").string(), last_lines(r.cell->dir() / "log.txt", 8)));
      }
      changed = true;
      continue;
    }
    if (changed || seconds_since(last_progress) >= options.progress_every_s) {
      std::string now;
      for (const auto& [p, r] : running) now += fmt::format(" {} ({})", r.cell->id, minutes(seconds_since(r.start)));
      log_line(fmt::format("progress: {}/{} done | {} running{} | {} left | {} failed | elapsed {}", done, total,
                           running.size(), running.empty() ? "" : ":" + now, queue.size(), failed.size(),
                           minutes(seconds_since(t0))));
      last_progress = Clock::now();
      changed = false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!failed.empty()) log_line(fmt::format("run: {} cells failed: {}", failed.size(), join(failed, ", ")));
  log_line(fmt::format("run: {}/{} cells done in {}", done, total, minutes(seconds_since(t0))));
  return int64_t(failed.size());
}

void run_one_cell(const Experiment& e, const std::string& id) { train_and_evaluate(find_cell(e, id).config); }

}  // namespace oasis
