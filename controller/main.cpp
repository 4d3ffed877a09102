// SPDX-License-Identifier: Apache-2.0
// podid-controller: puts the identities pods need onto their VM scale sets. See controller/app.h.
#include <iostream>
#include <stdexcept>

#include "controller/app.h"
#include "controller/config.h"

int main(int argc, char** argv) {
  using namespace podid::controller;
  Invocation inv;
  try {
    inv = parse_controller_args(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::cerr << "podid-controller: " << e.what() << "\n";
    return 2;
  }
  switch (inv.command) {
    case Command::kHelp: std::cout << controller_usage(); return 0;
    case Command::kVersion: std::cout << "podid-controller " << PODID_VERSION << "\n"; return 0;
    case Command::kRun: return run_controller(inv.config);
  }
  return 2;
}
