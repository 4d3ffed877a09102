// SPDX-License-Identifier: Apache-2.0
//
// One run of `podid doctor` or `podid explain`: reads the cluster (and Azure, with the controller's azure.json
// when given), decides with the pure checks, prints, and returns the exit status (0 nothing wrong / the pod gets
// an identity, 1 otherwise). Usage errors are options.h's; anything that stops a run (an unreadable kubeconfig,
// an API server that refuses the lists) is printed on stderr as "podid: ..." and returns 1.
#pragma once

#include <iosfwd>

#include "cli/options.h"

namespace podid::cli {

int run(const CliOptions& options, std::ostream& out, std::ostream& err);

}  // namespace podid::cli
