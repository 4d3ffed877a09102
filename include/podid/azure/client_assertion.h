// SPDX-License-Identifier: Apache-2.0
//
// The certificate credential of a service principal (AzureIdentity type 2): a PKCS#12 file holding an RSA key
// and its certificate, and the signed JWT client assertion Entra ID accepts in place of a secret
// (reference/azure-wire-formats.md §4.3). RS256 with both thumbprints in the header (x5t, SHA-1, as adal and
// older Entra docs use; x5t#S256, as msal does), so either lookup on Entra's side finds the certificate.
//
// Pure: the assertion depends only on (key, client id, audience, now, jti), so tests check every byte.
//
// Errors: Result with EINVAL (not PKCS#12, no key or certificate, key too short), EACCES (wrong password) or
// ENOTSUP (a key that is not RSA), and a context that says which, plus OpenSSL's reason. Never the password.
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "podid/result.h"

namespace podid::azure {

inline constexpr std::chrono::seconds kAssertionLifetime{600};  // what msal sends; Entra wants 5-10 min

// The RSA key and the thumbprints of its certificate, loaded once and shared by every assertion signed with it.
class CertificateKey {
 public:
  // `pkcs12` is the DER file (the bytes a Kubernetes Secret's `certificate` key holds). Files using the
  // legacy RC2/3DES encryption older Windows tools export load too (OpenSSL's legacy provider, loaded on demand).
  static Result<CertificateKey> load_pkcs12(std::string_view pkcs12, std::string_view password);

  const std::string& x5t() const { return x5t_; }            // base64url(SHA-1(cert DER)), no padding
  const std::string& x5t_s256() const { return x5t_s256_; }  // base64url(SHA-256(cert DER)), no padding
  int key_bits() const;

  // RSASSA-PKCS1-v1_5 with SHA-256 over `data`: the JWS RS256 signature bytes.
  Result<std::string> sign_rs256(std::string_view data) const;

 private:
  std::shared_ptr<EVP_PKEY> key_;
  std::string x5t_;
  std::string x5t_s256_;
};

struct AssertionClaims {
  std::string client_id;                      // iss and sub
  std::string audience;                       // the token endpoint URL the assertion is sent to
  std::chrono::system_clock::time_point now;  // nbf and iat; exp = now + kAssertionLifetime
  std::string jti;                            // unique per assertion: random_uuid()
};

// header.claims.signature, each base64url without padding.
Result<std::string> make_client_assertion(const CertificateKey& key, const AssertionClaims& claims);
Result<std::string> make_client_assertion(std::string_view pkcs12, std::string_view password,
                                          const AssertionClaims& claims);

// A random (version 4) UUID, lower-case: the jti.
std::string random_uuid();

}  // namespace podid::azure
