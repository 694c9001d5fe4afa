// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The man page and the bash completion, generated from the command tree itself so that they can
// never drift from `mkeys --help-all` (`mkeys --generate man|bash-completion`; the build runs it).

#include <string>

namespace CLI {
class App;
}

namespace mkeys::cli {

// mkeys(1) in man(7) format: NAME, SYNOPSIS, DESCRIPTION, GLOBAL OPTIONS, COMMANDS (every group
// and command with its options), EXIT STATUS, the footer.
std::string ManPage(const CLI::App& app, const std::string& version);
// A bash completion script: completes groups, commands and each command's options.
std::string BashCompletion(const CLI::App& app);

}  // namespace mkeys::cli
