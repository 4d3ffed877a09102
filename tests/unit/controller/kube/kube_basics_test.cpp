// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <chrono>

#include "controller/kube/kube_errors.h"
#include "controller/kube/kube_time.h"

namespace podid::controller::kube {
namespace {

using namespace std::chrono;

TEST(KubeTime, SecondsAndMicroseconds) {
  sys_days day = year{2024} / May / 1;
  auto t = day + hours{12} + minutes{3} + seconds{4} + microseconds{56789} + nanoseconds{999};
  EXPECT_EQ(format_time(t), "2024-05-01T12:03:04Z");
  EXPECT_EQ(format_micro_time(t), "2024-05-01T12:03:04.056789Z");  // truncated, never rounded up
  EXPECT_EQ(format_time(system_clock::time_point{}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_micro_time(system_clock::time_point{}), "1970-01-01T00:00:00.000000Z");
}

TEST(KubeErrors, StatusesMapToKinds) {
  auto response = [](unsigned status, const char* reason) {
    k8s::ApiResponse r;
    r.status = status;
    r.body = {{"kind", "Status"}, {"reason", reason}, {"message", std::string("msg ") + reason}};
    return r;
  };
  EXPECT_EQ(kube_error_for(response(404, "NotFound")), KubeError::kNotFound);
  EXPECT_EQ(kube_error_for(response(409, "AlreadyExists")), KubeError::kAlreadyExists);
  EXPECT_EQ(kube_error_for(response(409, "Conflict")), KubeError::kConflict);
  EXPECT_EQ(kube_error_for(response(403, "Forbidden")), KubeError::kForbidden);
  EXPECT_EQ(kube_error_for(response(401, "Unauthorized")), KubeError::kUnauthorized);
  EXPECT_EQ(kube_error_for(response(422, "Invalid")), KubeError::kInvalid);
  EXPECT_EQ(kube_error_for(response(429, "TooManyRequests")), KubeError::kTooManyRequests);
  EXPECT_EQ(kube_error_for(response(503, "ServiceUnavailable")), KubeError::kServerError);
  EXPECT_EQ(kube_error_for(response(418, "Teapot")), KubeError::kUnexpectedStatus);

  Error e = status_error(response(403, "Forbidden"), "update configmaps x");
  EXPECT_EQ(e.code, KubeError::kForbidden);
  EXPECT_EQ(e.context, "update configmaps x: HTTP 403: msg Forbidden");
  EXPECT_STREQ(e.code.category().name(), "podid.kube");

  k8s::ApiResponse html;
  html.status = 502;
  html.body = "<html>bad gateway</html>";
  EXPECT_EQ(status_error(html, "get").context, "get: HTTP 502: <html>bad gateway</html>");
}

}  // namespace
}  // namespace podid::controller::kube
