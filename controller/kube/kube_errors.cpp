// SPDX-License-Identifier: Apache-2.0
#include "controller/kube/kube_errors.h"

namespace podid::controller::kube {
namespace {

class KubeCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "podid.kube"; }
  std::string message(int value) const override {
    switch (static_cast<KubeError>(value)) {
      case KubeError::kNotFound: return "not found";
      case KubeError::kAlreadyExists: return "already exists";
      case KubeError::kConflict: return "conflict: the object changed since it was read";
      case KubeError::kUnauthorized: return "unauthorized";
      case KubeError::kForbidden: return "forbidden";
      case KubeError::kInvalid: return "invalid";
      case KubeError::kTooManyRequests: return "too many requests";
      case KubeError::kServerError: return "API server error";
      case KubeError::kUnexpectedStatus: return "unexpected HTTP status";
      case KubeError::kNameCollision: return "object name collision";
      case KubeError::kMalformedObject: return "malformed object";
    }
    return "unknown Kubernetes error";
  }
};

}  // namespace

const std::error_category& kube_category() {
  static const KubeCategory category;
  return category;
}

std::error_code make_error_code(KubeError e) { return {static_cast<int>(e), kube_category()}; }

KubeError kube_error_for(const k8s::ApiResponse& response) {
  switch (response.status) {
    case 401: return KubeError::kUnauthorized;
    case 403: return KubeError::kForbidden;
    case 404: return KubeError::kNotFound;
    case 409: {
      const auto& body = response.body;
      bool exists = body.is_object() && body.contains("reason") && body["reason"] == "AlreadyExists";
      return exists ? KubeError::kAlreadyExists : KubeError::kConflict;
    }
    case 422: return KubeError::kInvalid;
    case 429: return KubeError::kTooManyRequests;
    default: return response.status >= 500 ? KubeError::kServerError : KubeError::kUnexpectedStatus;
  }
}

Error status_error(const k8s::ApiResponse& response, const std::string& what) {
  std::string message = response.message();
  std::string prefix = "HTTP " + std::to_string(response.status);
  // message() already starts with the status when the body was not a Status object.
  if (message.rfind(prefix, 0) != 0) message = prefix + ": " + message;
  return Error{make_error_code(kube_error_for(response)), what + ": " + message};
}

}  // namespace podid::controller::kube
