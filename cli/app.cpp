// SPDX-License-Identifier: GPL-3.0-or-later
#include "app.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <vector>

#include "docgen/docgen.hpp"
#include "mkeys/core/error.hpp"
#include "mkeys/core/log.hpp"

#ifndef MKEYS_VERSION
#define MKEYS_VERSION "0.0.0"
#endif

namespace mkeys::cli {
namespace {

std::vector<std::pair<int, Registrar>>& Registry() {
  static std::vector<std::pair<int, Registrar>> registry;
  return registry;
}

constexpr const char* kFooter = R"(Exit codes:
  0  success / nothing found
  1  the answer is negative: access denied, findings present, the open would fail
  2  usage error
  3  input or environment error: missing file, corrupt data, I/O
  4  peer or network error
  5  waiting: a request another manager has not approved yet

Environment: NO_COLOR disables colour. Run 'mkeys COMMAND --help' for each command.)";

}  // namespace

CommandRegistration::CommandRegistration(int order, Registrar registrar) {
  Registry().emplace_back(order, registrar);
}

void Context::Bind(CLI::App* sub, std::function<int(Context&)> action) {
  sub->callback([this, action = std::move(action)]() { chosen_ = action; });
}

int Context::RunChosen() {
  if (!chosen_) {
    return -1;
  }
  return chosen_(*this);
}

std::unique_ptr<CLI::App> BuildApp(Context& ctx) {
  auto app = std::make_unique<CLI::App>(
      "mkeys: Windows machine key stores (MachineKeys), their ACLs and key containers.\n"
      "Join an array, diagnose KEYSET DOES NOT EXIST, validate hardened images.",
      "mkeys");
  app->footer(kFooter);
  app->set_help_all_flag("--help-all", "Print help for every command");
  app->add_flag("--json", ctx.options.json, "Print one JSON document on stdout instead of text");
  app->add_flag("--no-color", ctx.options.no_color, "Never colour output (also: NO_COLOR)");
  app->add_flag("-v,--verbose", ctx.options.verbose, "Log more to stderr (repeatable)");
  app->add_flag("-q,--quiet", ctx.options.quiet, "Log errors only");
  app->add_flag("--version", ctx.options.version, "Print the version and exit");
  // Hidden: the build writes the man page and the bash completion with it.
  app->add_option("--generate", ctx.options.generate, "man | bash-completion")
      ->check(CLI::IsMember({"man", "bash-completion"}))
      ->group("");
  app->require_subcommand(0, 1);
  app->fallthrough();  // global flags may also follow the command

  auto registry = Registry();
  std::stable_sort(registry.begin(), registry.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [order, registrar] : registry) {
    registrar(*app, ctx);
  }
  return app;
}

int Main(int argc, char** argv) {
  Context ctx;
  auto app = BuildApp(ctx);
  try {
    app->parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app->exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app->exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11 says "The following argument was not expected: ..." and friends. With --json the
    // usage error is one JSON document on stdout too, as every other error is.
    std::cerr << "mkeys: " << e.what() << "\nRun 'mkeys --help' for usage.\n";
    if (std::any_of(argv + 1, argv + argc,
                    [](const char* a) { return std::string_view(a) == "--json"; })) {
      Output out;
      out.Configure(true, false);
      out.Json({{"error", Output::ErrorJson(Error(ErrorCode::kInvalidArgument, e.what()))}});
    }
    return kExitUsage;
  }

  if (ctx.options.generate == "man") {
    std::cout << ManPage(*app, MKEYS_VERSION);
    return kExitOk;
  }
  if (ctx.options.generate == "bash-completion") {
    std::cout << BashCompletion(*app);
    return kExitOk;
  }

  SetVerbosity(ctx.options.quiet ? -1 : ctx.options.verbose);
  const char* no_color = std::getenv("NO_COLOR");
  ctx.out.Configure(ctx.options.json,
                    !ctx.options.no_color && (no_color == nullptr || *no_color == '\0'));

  if (ctx.options.version) {
    if (ctx.options.json) {
      ctx.out.Json({{"name", "mkeys"}, {"version", MKEYS_VERSION}});
    } else {
      ctx.out.Line(std::string("mkeys ") + MKEYS_VERSION);
    }
    return kExitOk;
  }

  try {
    const int code = ctx.RunChosen();
    if (code >= 0) {
      return code;
    }
  } catch (const std::exception& e) {
    // Libraries return errors; an exception here is a bug, still reported cleanly.
    ctx.out.PrintError(Error(ErrorCode::kInternal, std::string("internal error: ") + e.what()));
    return kExitInput;
  }
  std::cerr << app->help();
  return kExitUsage;
}

}  // namespace mkeys::cli
