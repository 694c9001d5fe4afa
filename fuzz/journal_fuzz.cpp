// SPDX-License-Identifier: GPL-3.0-or-later
// Repair journals: decode or fail with an error naming the offset (a torn last record is
// reported, not an error); what decodes encodes to bytes that decode to the same journal.
// fuzz-links: mkeys::repair
// fuzz-requires: repair/src/journal.cpp
#include <cstdint>
#include <span>

#include "fuzz_check.hpp"
#include "mkeys/repair/journal.hpp"

using mkeys::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto journal = mkeys::repair::DecodeJournal(std::span<const std::uint8_t>(data, size));
  if (!journal) return 0;
  const auto bytes = mkeys::repair::EncodeJournal(*journal);
  auto again = mkeys::repair::DecodeJournal(bytes);
  Check(again.ok(), "a journal we encoded does not decode");
  Check(again->entries.size() == journal->entries.size(), "a journal lost entries");
  for (std::size_t i = 0; i < journal->entries.size(); ++i) {
    Check(again->entries[i].relative_path == journal->entries[i].relative_path &&
              again->entries[i].before == journal->entries[i].before &&
              again->entries[i].after == journal->entries[i].after,
          "a journal entry does not round-trip");
  }
  Check(again->sealed == journal->sealed && again->completed == journal->completed,
        "a journal's markers do not round-trip");
  Check(again->header.partition == journal->header.partition &&
            again->header.root_identity == journal->header.root_identity,
        "a journal's image partition does not round-trip");
  Check(!again->torn_tail.has_value(), "a journal we encoded has a torn tail");
  return 0;
}
