// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "mkeys/core/le.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/core/time.hpp"

using namespace mkeys;

TEST_CASE("ASCII case folding leaves non-ASCII bytes alone", "[core][text]") {
  CHECK(text::ToLowerAscii("NT AUTHORITY\\Network Service") == "nt authority\\network service");
  CHECK(text::EqualsIgnoreAsciiCase("MachineKeys", "MACHINEKEYS"));
  CHECK_FALSE(text::EqualsIgnoreAsciiCase("MachineKeys", "MachineKey"));
  // U+00C9 (C3 89) and U+00E9 (C3 A9) differ outside ASCII: Windows' ordinal-ignore-case of
  // container names is not applied to them here.
  CHECK_FALSE(text::EqualsIgnoreAsciiCase("\xC3\x89", "\xC3\xA9"));
}

TEST_CASE("UTF-8 to UTF-16LE and back - surrogate pairs and invalid input", "[core][text]") {
  const auto a = text::Utf8ToUtf16Le("A\xC3\xA9\xF0\x9F\x94\x91");  // A, e-acute, U+1F511 (key)
  const std::vector<std::uint8_t> want = {0x41, 0x00, 0xE9, 0x00, 0x3D, 0xD8, 0x11, 0xDD};
  CHECK(a == want);
  CHECK(text::Utf16LeToUtf8(a).value() == "A\xC3\xA9\xF0\x9F\x94\x91");
  // A lone 0xFF byte is not UTF-8: it becomes U+FFFD, never dropped.
  CHECK(text::Utf8ToUtf16Le("\xFF") == std::vector<std::uint8_t>{0xFD, 0xFF});
  // An odd length or an unpaired surrogate is not UTF-16.
  CHECK_FALSE(text::Utf16LeToUtf8(std::vector<std::uint8_t>{0x41}).has_value());
  CHECK_FALSE(text::Utf16LeToUtf8(std::vector<std::uint8_t>{0x00, 0xDC}).has_value());
}

TEST_CASE("little-endian reads and writes agree", "[core][le]") {
  std::vector<std::uint8_t> out;
  le::Put16(out, 0x0102);
  le::Put32(out, 0x03040506);
  le::Put64(out, 0x0708090A0B0C0D0EULL);
  CHECK(out.size() == 14);
  CHECK(out[0] == 0x02);
  CHECK(le::Read16(out, 0) == 0x0102);
  CHECK(le::Read32(out, 2) == 0x03040506);
  CHECK(le::Read64(out, 6) == 0x0708090A0B0C0D0EULL);
}

TEST_CASE("timestamps are UTC", "[core][time]") {
  CHECK(time::UtcTimestamp(0, "%Y-%m-%dT%H:%M:%SZ") == "1970-01-01T00:00:00Z");
  CHECK(time::UtcNowIso8601().size() == 20);
}
