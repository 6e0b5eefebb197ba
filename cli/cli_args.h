// Command-line parsing shared by the subcommands: "[options] POSITIONAL... [key=value...]", where the
// positional words (files, run directories, overrides) are collected in order. Bad options are usage
// errors (exit code 2).
#pragma once
#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "framework/core/errors.h"

namespace oasis {

struct ParsedArgs {
  bool help = false;
  std::vector<std::string> positional;
  std::vector<std::string> given;  // names of the options on the command line (flags included)
  bool has(const std::string& option) const { return std::find(given.begin(), given.end(), option) != given.end(); }
};

// `options` should include "help"; their bound variables are filled.
inline ParsedArgs parse_command(const std::vector<std::string>& args, const std::string& command,
                                const boost::program_options::options_description& options) {
  namespace po = boost::program_options;
  po::options_description hidden;
  hidden.add_options()("args", po::value<std::vector<std::string>>()->multitoken(), "");
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add("args", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(fmt::format("oasis {}: {}", command, e.what()));
  }
  ParsedArgs parsed;
  parsed.help = vm.count("help") > 0;
  if (vm.count("args")) parsed.positional = vm["args"].as<std::vector<std::string>>();
  for (const auto& [name, value] : vm)
    if (name != "args" && !value.defaulted()) parsed.given.push_back(name);
  return parsed;
}

// `usage` (a few lines of text) followed by the option table.
inline void print_help(const char* usage, const boost::program_options::options_description& options) {
  std::ostringstream text;
  text << options;
  std::printf("%s%s", usage, text.str().c_str());
}

// For subcommands whose only option is --help.
inline ParsedArgs parse_help_only(const std::vector<std::string>& args, const std::string& command) {
  boost::program_options::options_description options(command + " options");
  options.add_options()("help,h", "show this help");
  return parse_command(args, command, options);
}

}  // namespace oasis
