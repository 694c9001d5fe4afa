// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Structure-aware help for the JSON formats: byte mutations rarely keep a document valid, so
// type confusion deep inside one ("master_key_path": 7) is out of a plain fuzzer's reach.
// JsonSplicer takes a valid template and lets the fuzz input pick one value (byte 0), what to do
// with it (byte 1: replace it with the rest of the input parsed as JSON, replace it with the rest
// as a string, or delete it) and the replacement (the rest).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace mkeys::fuzz {

class JsonSplicer final {
 public:
  explicit JsonSplicer(nlohmann::json tmpl) : template_(std::move(tmpl)) {
    // Every value's pointer: the leaves flatten() lists and every container above them.
    const nlohmann::json flat = template_.flatten();
    for (const auto& item : flat.items()) {
      const std::string& leaf = item.key();
      for (std::size_t slash = leaf.find('/', 1); slash != std::string::npos;
           slash = leaf.find('/', slash + 1)) {
        paths_.push_back(leaf.substr(0, slash));
      }
      paths_.push_back(leaf);
    }
    std::sort(paths_.begin(), paths_.end());
    paths_.erase(std::unique(paths_.begin(), paths_.end()), paths_.end());
  }

  // The template with the change `data` describes, as JSON text; nothing for short inputs.
  std::optional<std::string> Apply(std::span<const std::uint8_t> data) const {
    using nlohmann::json;
    if (data.size() < 2 || paths_.empty()) return std::nullopt;
    const json::json_pointer target(paths_[data[0] % paths_.size()]);
    // At most 512 bytes: deeper nesting would only test nlohmann's recursion in dump().
    const auto rest = data.subspan(2, std::min<std::size_t>(data.size() - 2, 512));
    const std::string_view text(reinterpret_cast<const char*>(rest.data()), rest.size());
    json doc = template_;
    switch (data[1] % 3) {
      case 0: {
        json value = json::parse(text, nullptr, false);
        doc[target] = value.is_discarded() ? json(std::string(text)) : std::move(value);
        break;
      }
      case 1:
        doc[target] = std::string(text);
        break;
      default: {
        json& parent = doc[target.parent_pointer()];
        if (parent.is_object()) {
          parent.erase(target.back());
        } else if (parent.is_array() && !parent.empty()) {
          parent.erase(parent.size() - 1);
        }
        break;
      }
    }
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
  }

 private:
  nlohmann::json template_;
  std::vector<std::string> paths_;
};

}  // namespace mkeys::fuzz
