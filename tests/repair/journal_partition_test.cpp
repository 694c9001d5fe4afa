// SPDX-License-Identifier: GPL-3.0-or-later
// The partition of a disk image root in the journal header: recorded, read back, and absent
// from journals written before it was recorded (and from directory roots).
#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "mkeys/repair/journal.hpp"

using namespace mkeys;

namespace {

repair::Journal ImageJournal() {
  repair::Journal j;
  j.header.root = "/srv/images/win2022.img";
  j.header.machine_guid = "5d0c9a51-77e2-4b1f-9a8c-3e6f1b2a4c7d";
  j.header.root_identity = "2049:131075";
  j.header.attribute = "system.ntfs_acl";
  j.header.ntfs = true;
  j.header.planned = 1;
  j.header.created = "2026-12-03T08:00:00Z";
  j.entries.push_back({"ProgramData/Microsoft/Crypto/RSA/MachineKeys", {1, 0, 4, 0x80}, {2}});
  j.sealed = true;
  return j;
}

}  // namespace

TEST_CASE("a journal records the disk image partition it was written on", "[repair][journal]") {
  auto j = ImageJournal();
  j.header.partition = repair::JournalPartition{2, 22020096, 56623104};
  const auto decoded = repair::DecodeJournal(repair::EncodeJournal(j));
  REQUIRE(decoded);
  REQUIRE(decoded->header.partition.has_value());
  CHECK(decoded->header.partition->index == 2);
  CHECK(decoded->header.partition->offset == 22020096u);
  CHECK(decoded->header.partition->length == 56623104u);
  CHECK(decoded->entries.size() == 1u);
}

TEST_CASE("a journal without a partition reads as before", "[repair][journal]") {
  // The corpus seed was written before the partition was recorded.
  std::ifstream in(std::string(MKEYS_SOURCE_DIR) + "/fuzz/corpus/journal/completed",
                   std::ios::binary);
  const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in),
                                        std::istreambuf_iterator<char>()};
  REQUIRE(!bytes.empty());
  const auto old = repair::DecodeJournal(bytes);
  REQUIRE(old);
  CHECK(!old->header.partition.has_value());
  CHECK(old->completed);
  const auto directory = repair::DecodeJournal(repair::EncodeJournal(ImageJournal()));
  REQUIRE(directory);
  CHECK(!directory->header.partition.has_value());
}

TEST_CASE("a journal with a negative partition number is corrupt", "[repair][journal]") {
  auto j = ImageJournal();
  j.header.partition = repair::JournalPartition{-1, 0, 0};
  const auto decoded = repair::DecodeJournal(repair::EncodeJournal(j));
  REQUIRE(!decoded);
  CHECK(decoded.error().message().find("partition -1") != std::string::npos);
}
