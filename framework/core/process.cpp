#include "framework/core/process.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "framework/core/errors.h"

namespace oasis {

ProcessResult run_process(const std::vector<std::string>& argv, bool with_stderr) {
  int out[2];
  if (::pipe(out) != 0) throw RuntimeError("cannot start " + argv.at(0) + ": pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw RuntimeError("cannot start " + argv.at(0) + ": fork failed");
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    if (with_stderr) ::dup2(out[1], STDERR_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ProcessResult result;
  char buffer[4096];
  for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) result.output.append(buffer, size_t(n));
  ::close(out[0]);
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.peak_rss_mb = double(usage.ru_maxrss) / 1024.0;
  return result;
}

}  // namespace oasis
