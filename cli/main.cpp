// SPDX-License-Identifier: GPL-3.0-or-later
#include "app.hpp"

int main(int argc, char** argv) {
  return mkeys::cli::Main(argc, argv);
}
