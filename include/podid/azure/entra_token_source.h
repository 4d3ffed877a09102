// SPDX-License-Identifier: Apache-2.0
//
// Tokens of a service principal from Entra ID's v2 token endpoint (reference/azure-wire-formats.md §4.2):
// client_credentials with a client secret (AzureIdentity type 1) or a certificate's signed client assertion
// (type 2). POST {authority}/{tenant}/oauth2/v2.0/token, scope = <resource>/.default.
//
// The credential is read through a getter on every fetch (see sp_credential.h): a rotated Secret takes effect at
// the next fetch, and cache_key() changes with it (a keyed fingerprint, never the credential), so the cache does
// not keep serving what the old credential obtained under the new one's name.
//
// Errors: the factories refuse a bad tenant or authority, or an authority that is not https (http to loopback
// only, for emulators), with EINVAL. fetch never throws: Entra's 400/401 (AADSTS...) and any other non-200 are an
// UpstreamFailure with the body passed on; no answer, an unreadable credential or a 200 without a usable token
// are status 0 with the reason in `detail`.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "podid/azure/client_assertion.h"
#include "podid/azure/sp_credential.h"
#include "podid/azure/token_source.h"
#include "podid/clock.h"
#include "podid/http/client.h"

namespace podid::azure {

struct EntraSourceOptions {
  std::string authority;  // AzureIdentity spec.adEndpoint; empty: https://login.microsoftonline.com/
  std::string tenant_id;  // spec.tenantID
  std::string client_id;  // spec.clientID: the application (client) id
};

class EntraTokenSource final : public TokenSource {
 public:
  // `client` and `clock` must outlive the source. The getter is called on every cache lookup (for the cache
  // key) and every fetch: it must be cheap and must not block (read what the Secret watch keeps in memory).
  static Result<std::shared_ptr<EntraTokenSource>> with_secret(http::Client& client, EntraSourceOptions options,
                                                               SecretGetter secret);
  static Result<std::shared_ptr<EntraTokenSource>> with_secret(http::Client& client, EntraSourceOptions options,
                                                               SecretGetter secret, const WallClock& clock);
  static Result<std::shared_ptr<EntraTokenSource>> with_certificate(http::Client& client,
                                                                    EntraSourceOptions options,
                                                                    CertificateGetter certificate);
  static Result<std::shared_ptr<EntraTokenSource>> with_certificate(http::Client& client,
                                                                    EntraSourceOptions options,
                                                                    CertificateGetter certificate,
                                                                    const WallClock& clock);

  boost::asio::awaitable<TokenOutcome> fetch(const std::string& resource, const FetchContext& context) override;
  // "sp-secret/<authority host>/<tenant>/<client id>/<fingerprint>" (or sp-cert/...); the fingerprint is
  // "unavailable" while the getter fails.
  std::string cache_key() const override;
  std::string describe() const override;  // "entra sp-secret tenant=<t> client_id=<c>"

  const std::string& token_endpoint() const { return endpoint_; }  // also the assertion's aud

 private:
  using Credential = std::variant<SecretGetter, CertificateGetter>;
  EntraTokenSource(http::Client& client, EntraSourceOptions options, http::Url url, std::string endpoint,
                   Credential credential, const WallClock& clock);
  static Result<std::shared_ptr<EntraTokenSource>> make(http::Client& client, EntraSourceOptions options,
                                                        Credential credential, const WallClock& clock);
  bool uses_secret() const { return credential_.index() == 0; }
  // The form body for the current credential, or why there is none.
  Result<std::string> credential_form(const std::string& resource);
  Result<CertificateKey> certificate_key(const CertificateCredential& credential);

  http::Client& client_;
  EntraSourceOptions options_;
  http::Url url_;
  std::string endpoint_;
  Credential credential_;
  const WallClock& clock_;
  // The last certificate loaded, by fingerprint: PKCS#12 decryption runs a key derivation each time, and the
  // certificate only changes when the Secret does.
  std::mutex key_mutex_;
  std::optional<std::pair<std::string, CertificateKey>> loaded_key_;
};

}  // namespace podid::azure
