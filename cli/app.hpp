// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The mkeys command line: global options, command registration and the output helpers every
// command shares. Commands live in cli/commands/*.cpp and register themselves with
// MKEYS_REGISTER_COMMANDS, so adding a command group never edits a shared file.

#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "mkeys/core/result.hpp"
#include "output/output.hpp"

namespace mkeys::cli {

struct GlobalOptions {
  bool json = false;
  bool no_color = false;
  int verbose = 0;
  bool quiet = false;
  bool version = false;
  std::string generate;  // hidden --generate man|bash-completion
};

class Context final {
 public:
  GlobalOptions options;
  Output out;

  // Makes `sub` run `action` when it is the command the user chose. `action` returns the
  // process exit code (see ExitCode in mkeys/core/error.hpp).
  void Bind(CLI::App* sub, std::function<int(Context&)> action);

  // Called by main after parsing: runs the chosen action, or returns -1 if none was chosen.
  int RunChosen();

 private:
  std::function<int(Context&)> chosen_;
};

using Registrar = void (*)(CLI::App& app, Context& ctx);

// Registration happens at static-initialisation time; `order` sorts the groups in --help.
struct CommandRegistration {
  CommandRegistration(int order, Registrar registrar);
};

#define MKEYS_REGISTER_COMMANDS(order, fn) \
  static const ::mkeys::cli::CommandRegistration MKEYS_CONCAT(mkeys_reg_, __LINE__)(order, fn)

// Builds the whole command tree (used by main and by tests).
std::unique_ptr<CLI::App> BuildApp(Context& ctx);

// Runs mkeys with these arguments and returns the exit code.
int Main(int argc, char** argv);

}  // namespace mkeys::cli
