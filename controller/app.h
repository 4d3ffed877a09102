// SPDX-License-Identifier: Apache-2.0
//
// podid-controller's process: wiring of the caches, the ARM client, the writers, leader election and the ops
// endpoint, then the io_context until SIGTERM. Returns the process exit code: 0 after a graceful stop, 1 when
// start-up fails. Losing leadership does not end the process (see app.cpp).
#pragma once

#include "controller/config.h"

namespace podid::controller {

int run_controller(const ControllerConfig& config);

}  // namespace podid::controller
