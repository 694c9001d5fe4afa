// SPDX-License-Identifier: GPL-3.0-or-later
#include "output/output.hpp"
#include "output/safe_text.hpp"

#include <unistd.h>

#include <fmt/format.h>

namespace mkeys::cli {

void Output::Configure(bool json, bool color_allowed) {
  json_ = json;
  color_ = color_allowed && isatty(STDOUT_FILENO) == 1;
  stderr_tty_ = isatty(STDERR_FILENO) == 1;
}

void Output::Line(std::string_view text) const {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

std::string Output::Paint(std::string_view text, Color color) const {
  if (!color_ || color == Color::kNone) {
    return std::string(text);
  }
  const char* code = "";
  switch (color) {
    case Color::kRed:
      code = "\033[31m";
      break;
    case Color::kGreen:
      code = "\033[32m";
      break;
    case Color::kYellow:
      code = "\033[33m";
      break;
    case Color::kBlue:
      code = "\033[34m";
      break;
    case Color::kBold:
      code = "\033[1m";
      break;
    case Color::kDim:
      code = "\033[2m";
      break;
    case Color::kNone:
      break;
  }
  return fmt::format("{}{}\033[0m", code, text);
}

void Output::Json(const nlohmann::json& doc) const {
  Line(doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

nlohmann::json Output::ErrorJson(const Error& error) {
  nlohmann::json e = {{"code", std::string(ErrorCodeName(error.code()))},
                      {"message", error.message()},
                      {"exit_code", static_cast<int>(error.ToExitCode())}};
  if (error.object()) e["object"] = *error.object();
  if (error.position()) e["position"] = *error.position();
  if (error.windows_code()) e["windows_code"] = fmt::format("0x{:08X}", *error.windows_code());
  return e;
}

void Output::PrintError(const Error& error) const {
  // Error messages name files from the disk: no control byte of theirs reaches the terminal.
  std::fprintf(stderr, "mkeys: %s\n", EscapeUnsafeKeepNewlines(error.ToString()).c_str());
  if (json_) {
    Json({{"error", ErrorJson(error)}});
  }
}

void Output::Note(std::string_view text) const {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fputc('\n', stderr);
}

void Output::Progress(std::string_view label, std::size_t done, std::size_t total) const {
  if (!stderr_tty_) return;
  if (total > 0) {
    const int width = 30;
    const int filled = static_cast<int>(width * done / total);
    std::fprintf(stderr, "\r%.*s [%s%s] %zu/%zu", static_cast<int>(label.size()), label.data(),
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(), done,
                 total);
  } else {
    std::fprintf(stderr, "\r%.*s %zu", static_cast<int>(label.size()), label.data(), done);
  }
  std::fflush(stderr);
}

void Output::ProgressDone() const {
  if (!stderr_tty_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

}  // namespace mkeys::cli
