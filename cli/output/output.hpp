// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Everything mkeys prints goes through Output: text or one JSON document on stdout, errors on
// stderr, colour only on a terminal and never with --no-color / NO_COLOR.

#include <cstdio>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "mkeys/core/error.hpp"

namespace mkeys::cli {

enum class Color { kNone, kRed, kGreen, kYellow, kBlue, kBold, kDim };

class Output final {
 public:
  void Configure(bool json, bool color_allowed);

  bool json() const { return json_; }
  bool color() const { return color_; }

  // One line of text on stdout.
  void Line(std::string_view text) const;
  // `text` wrapped in `color` when colour is on.
  std::string Paint(std::string_view text, Color color) const;
  // The JSON document (pretty-printed) on stdout.
  void Json(const nlohmann::json& doc) const;
  // An error: on stderr as "mkeys: OBJECT: MESSAGE"; with --json also as
  // {"error": {...}} on stdout so that scripts always get one document.
  void PrintError(const Error& error) const;
  // A note for people on stderr (never in JSON mode's stdout).
  void Note(std::string_view text) const;

  // The JSON form of an error, for commands that embed it in a larger document.
  static nlohmann::json ErrorJson(const Error& error);

  // A progress line on stderr that rewrites itself; silent unless stderr is a terminal.
  void Progress(std::string_view label, std::size_t done, std::size_t total) const;
  void ProgressDone() const;

 private:
  bool json_ = false;
  bool color_ = false;
  bool stderr_tty_ = false;
};

}  // namespace mkeys::cli
