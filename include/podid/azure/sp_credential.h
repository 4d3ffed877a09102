// SPDX-License-Identifier: Apache-2.0
//
// Service-principal credentials as the Entra token source reads them: a client secret (AzureIdentity type 1) or
// a PKCS#12 certificate and its password (type 2), both held in the Kubernetes Secret the AzureIdentity's
// spec.clientPassword names. The source reads them through a getter on every fetch, because a watch elsewhere
// keeps the Secret current and a rotated secret must take effect without restarting anything.
//
// Which Secret key holds what:
//   type 1: the key `clientSecret` if present (the name aad-pod-identity's docs use); otherwise the only key
//           (aad-pod-identity took the first value of the map, whatever its name, so one-key Secrets under any
//           name keep working); several keys and none named clientSecret is an error naming the keys, rather
//           than a guess that might send the wrong value to Entra ID.
//   type 2: `certificate` (PKCS#12 bytes, required) and `password` (optional, empty when absent), as in
//           aad-pod-identity.
//
// Errors: Result with EINVAL and a context naming the keys found (never a value).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "podid/result.h"

namespace podid::azure {

inline constexpr std::string_view kClientSecretKey = "clientSecret";
inline constexpr std::string_view kCertificateKey = "certificate";
inline constexpr std::string_view kCertificatePasswordKey = "password";

struct SecretCredential {
  std::string client_secret;
};

struct CertificateCredential {
  std::string pkcs12;    // DER bytes
  std::string password;  // may be empty
};

using SecretGetter = std::function<Result<SecretCredential>()>;
using CertificateGetter = std::function<Result<CertificateCredential>()>;

// From a Secret's data (values already base64-decoded, as the API's `data` holds them once decoded).
Result<SecretCredential> secret_credential_from_data(const std::map<std::string, std::string>& data);
Result<CertificateCredential> certificate_credential_from_data(const std::map<std::string, std::string>& data);

// 16 base64url characters that change when the credential changes, for cache keys and logs. A keyed hash
// (HMAC-SHA-256 under a random key made once per process), not a plain hash: cache keys reach logs, and a plain
// digest of a short secret could be brute-forced from one.
std::string credential_fingerprint(const SecretCredential& credential);
std::string credential_fingerprint(const CertificateCredential& credential);

}  // namespace podid::azure
