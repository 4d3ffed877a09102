// SPDX-License-Identifier: Apache-2.0
// podid: `podid doctor` and `podid explain` (also run as the kubectl plugin kubectl-podid).
#include <iostream>
#include <stdexcept>

#include "cli/app.h"
#include "cli/options.h"

int main(int argc, char** argv) {
  podid::cli::CliOptions options;
  try {
    options = podid::cli::parse_options(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::cerr << "podid: " << e.what() << "\n";
    return 2;
  }
  switch (options.command) {
    case podid::cli::Command::kHelp:
      std::cout << podid::cli::usage();
      return 0;
    case podid::cli::Command::kVersion:
      std::cout << "podid " PODID_VERSION "\n";
      return 0;
    default:
      return podid::cli::run(options, std::cout, std::cerr);
  }
}
