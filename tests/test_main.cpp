// SPDX-License-Identifier: GPL-3.0-or-later
// The test executables' main: Catch2's, with "--warn NoTests" always on, so a CTest entry whose
// filter matches no test case fails ("No tests ran") instead of passing with nothing tested.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <vector>

int main(int argc, char* argv[]) {
  std::vector<char*> args(argv, argv + argc);
  static char warn[] = "--warn";
  static char no_tests[] = "NoTests";
  args.insert(args.begin() + 1, {warn, no_tests});
  return Catch::Session().run(static_cast<int>(args.size()), args.data());
}
