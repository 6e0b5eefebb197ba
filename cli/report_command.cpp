// `oasis report RUNS_DIR [report.key=value...] [--format md|csv|latex] [--out FILE]`: the paper's tables from finished runs
// (framework/report/report.h says what each table holds).
#include <cstdio>
#include <sstream>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "framework/core/errors.h"
#include "framework/core/log.h"
#include "framework/core/paths.h"
#include "framework/report/report.h"

namespace oasis {

int cmd_report(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  po::options_description options("report options");
  std::string format = "md", out;
  options.add_options()("help,h", "show this help")("format", po::value(&format)->default_value("md"),
                                                    "md (Markdown), csv (long form: table,row,column,value) or latex")(
      "out", po::value(&out), "write to FILE instead of stdout");
  const ParsedArgs parsed = parse_command(args, "report", options);
  if (parsed.help) {
    print_help(
        "usage: oasis report RUNS_DIR [report.key=value...] [--format md|csv|latex] [--out FILE]\n\n"
        "Tables from every run under RUNS_DIR (mean ± sample std over seeds, with n): (a) outliers and sinks per\n"
        "dataset x preset, (b) test perplexity per scheme, (c) GSM8K Pass@1 per scheme; the method's relative\n"
        "change against each baseline; the runs behind every cell. Planned cells that are missing show as missing.\n"
        "What it shows comes from the experiment's report: section (method, baselines, statistics,\n"
        "statistics_scheme; docs/sweeps.md), which report.key=value overrides.\n\n",
        options);
    return 0;
  }
  if (parsed.positional.empty()) throw ConfigError("oasis report: expected a RUNS_DIR (see `oasis report --help`)");
  const std::string runs_dir = parsed.positional[0];
  const std::vector<std::string> overrides(parsed.positional.begin() + 1, parsed.positional.end());
  const RunsFound found = collect_runs(runs_dir);
  const std::string text = render_report(build_report(found.runs, report_settings(found, overrides)), format);
  if (out.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    write_file_atomic(out, text);
    log_line("wrote " + out);
  }
  return 0;
}

}  // namespace oasis
