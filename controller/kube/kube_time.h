// SPDX-License-Identifier: Apache-2.0
//
// Kubernetes timestamps as the API server writes them: metav1.Time is RFC 3339 in UTC to the second
// ("2024-05-01T12:00:00Z"), metav1.MicroTime to the microsecond ("2024-05-01T12:00:00.123456Z", Leases and
// events.k8s.io). Pure, no I/O.
//
// Errors: none; every time_point formats (UTC, truncated to the unit, never rounded up).
#pragma once

#include <chrono>
#include <string>

namespace podid::controller::kube {

std::string format_time(std::chrono::system_clock::time_point t);
std::string format_micro_time(std::chrono::system_clock::time_point t);

}  // namespace podid::controller::kube
