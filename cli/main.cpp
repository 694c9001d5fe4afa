#include "app.hpp"

int main(int argc, char** argv) {
  return mkeys::cli::Main(argc, argv);
}
