// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <string>

#include "mkeys/core/result.hpp"

using mkeys::Error;
using mkeys::ErrorCode;
using mkeys::Result;

namespace {

Result<int> ParseDigit(char c) {
  if (c < '0' || c > '9') {
    return Error(ErrorCode::kParse, std::string("not a digit: ") + c).At(3).On("input.txt");
  }
  return c - '0';
}

Result<int> SumOfDigits(char a, char b) {
  MKEYS_ASSIGN_OR_RETURN(int x, ParseDigit(a));
  MKEYS_ASSIGN_OR_RETURN(int y, ParseDigit(b));
  return x + y;
}

Result<void> CheckEven(int n) {
  if (n % 2 != 0) return Error(ErrorCode::kInvalidArgument, "odd");
  return mkeys::Ok();
}

Result<void> CheckSumEven(char a, char b) {
  MKEYS_ASSIGN_OR_RETURN(int s, SumOfDigits(a, b));
  MKEYS_TRY(CheckEven(s));
  return mkeys::Ok();
}

}  // namespace

TEST_CASE("Result carries a value or an error and propagates errors", "[core][result]") {
  auto ok = SumOfDigits('3', '4');
  REQUIRE(ok);
  CHECK(*ok == 7);

  auto bad = SumOfDigits('3', 'x');
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == ErrorCode::kParse);
  CHECK(bad.error().ToString() == "input.txt: not a digit: x (at offset 3)");

  CHECK(CheckSumEven('1', '1'));
  auto odd = CheckSumEven('1', '2');
  REQUIRE_FALSE(odd);
  CHECK(odd.error().message() == "odd");
}

TEST_CASE("Error maps to the documented exit codes", "[core][error]") {
  CHECK(Error(ErrorCode::kInvalidArgument, "x").ToExitCode() == mkeys::kExitUsage);
  CHECK(Error(ErrorCode::kAccessDenied, "x").ToExitCode() == mkeys::kExitNegative);
  CHECK(Error(ErrorCode::kParse, "x").ToExitCode() == mkeys::kExitInput);
  CHECK(Error(ErrorCode::kIo, "x").ToExitCode() == mkeys::kExitInput);
  CHECK(Error(ErrorCode::kNetwork, "x").ToExitCode() == mkeys::kExitPeer);
  CHECK(Error(ErrorCode::kPeerRefused, "x").ToExitCode() == mkeys::kExitPeer);
  auto e = Error(ErrorCode::kAccessDenied, "denied").WithWindowsCode(0x80090016);
  REQUIRE(e.windows_code());
  CHECK(*e.windows_code() == 0x80090016u);
}
