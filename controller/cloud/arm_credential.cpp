// SPDX-License-Identifier: Apache-2.0
#include "controller/cloud/arm_credential.h"

#include <cerrno>
#include <fstream>
#include <sstream>
#include <variant>

#include "podid/azure/access_token.h"
#include "podid/azure/entra_token_source.h"
#include "podid/azure/imds_token_source.h"
#include "podid/azure/token_cache.h"
#include "podid/azure/token_response.h"
#include "podid/log.h"

namespace podid::controller::cloud {
namespace {

namespace asio = boost::asio;
using std::chrono::system_clock;

constexpr size_t kBodySummaryBytes = 200;

// The PKCS#12 file, read at every fetch so that a rotated certificate is picked up without a restart.
azure::CertificateGetter certificate_file(std::string path, std::string password) {
  return [path = std::move(path), password = std::move(password)]() -> Result<azure::CertificateCredential> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return os_error(errno ? errno : ENOENT, "read aadClientCertPath " + path);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (in.bad()) return os_error(errno ? errno : EIO, "read aadClientCertPath " + path);
    return azure::CertificateCredential{bytes.str(), password};
  };
}

// "<source>: <upstream> answered <status>: <error>: <description>", with the start of the body when the answer
// had no error fields to show.
Error fetch_error(const azure::UpstreamFailure& f, const std::string& source) {
  std::string context = "ARM token from " + source + ": " + f.detail;
  if (f.status != 0 && context.ends_with(" answered " + std::to_string(f.status)) && !f.body.empty()) {
    std::string body = f.body.substr(0, kBodySummaryBytes);
    for (char& c : body) {
      if (c == '\r' || c == '\n') c = ' ';
    }
    context += ": " + body + (f.body.size() > kBodySummaryBytes ? "..." : "");
  }
  auto code = f.status == 0 ? std::errc::io_error : std::errc::permission_denied;
  return Error{std::make_error_code(code), std::move(context)};
}

}  // namespace

struct ArmCredential::State {
  State(asio::any_io_executor executor, std::shared_ptr<azure::TokenSource> s, std::string r,
        const ArmCredentialOptions& options, const WallClock& clock)
      : source(std::move(s)),
        resource(std::move(r)),
        clock(clock),
        cache(std::move(executor), clock,
              azure::TokenCacheOptions{.refresh_fraction = 0.5,
                                       .refresh_margin = options.refresh_margin,
                                       .refresh_in_background = false,
                                       .min_remaining = std::chrono::seconds{0},
                                       .refresh_retry_delay = options.refresh_retry_delay,
                                       .max_entries = 1}) {}

  std::shared_ptr<azure::TokenSource> source;
  std::string resource;
  const WallClock& clock;
  azure::TokenCache cache;

  static asio::awaitable<Result<std::string>> token(std::shared_ptr<State> self) {
    azure::FetchContext context;  // named: GCC 12 mishandles temporaries in a co_await expression
    azure::Served served = co_await self->cache.get(self->source, self->resource, context);
    if (auto* token = std::get_if<azure::AccessToken>(&served.outcome)) {
      if (!served.from_cache) {
        log::info("ARM token obtained",
                  {{"source", self->source->describe()},
                   {"expires_in_s",
                    std::chrono::duration_cast<std::chrono::seconds>(token->expires_on - self->clock.now()).count()}});
      }
      co_return token->access_token;
    }
    auto error = fetch_error(std::get<azure::UpstreamFailure>(served.outcome), self->source->describe());
    log::error("ARM token unavailable", {{"error", error.message()}});
    co_return error;
  }
};

ArmCredential::ArmCredential(asio::any_io_executor executor, std::shared_ptr<azure::TokenSource> source,
                             std::string resource, ArmCredentialOptions options, const WallClock& clock)
    : state_(std::make_shared<State>(std::move(executor), std::move(source), std::move(resource), options, clock)) {}

Result<ArmCredential> ArmCredential::create(http::Client& client, const ArmAuth& auth,
                                            const CloudEnvironment& environment, ArmCredentialOptions options) {
  return create(client, auth, environment, std::move(options), azure::system_wall_clock());
}

Result<ArmCredential> ArmCredential::create(http::Client& client, const ArmAuth& auth,
                                            const CloudEnvironment& environment, ArmCredentialOptions options,
                                            const WallClock& clock) {
  if (environment.token_audience.empty()) {
    return Error{std::make_error_code(std::errc::invalid_argument), "ARM credential: no token audience"};
  }
  std::shared_ptr<azure::TokenSource> source;
  if (auth.method == AuthMethod::kManagedIdentity) {
    auto imds = http::Url::parse(options.imds_endpoint);
    if (!imds) return imds.error().wrap("ARM credential: IMDS endpoint");
    source = std::make_shared<azure::ImdsTokenSource>(client, std::move(imds).value(), auth.client_id, clock);
  } else {
    azure::EntraSourceOptions entra{.authority = environment.active_directory_endpoint,
                                    .tenant_id = auth.tenant_id,
                                    .client_id = auth.client_id};
    Result<std::shared_ptr<azure::EntraTokenSource>> made =
        auth.method == AuthMethod::kClientSecret
            ? azure::EntraTokenSource::with_secret(
                  client, std::move(entra),
                  [secret = auth.client_secret]() -> Result<azure::SecretCredential> {
                    return azure::SecretCredential{secret};
                  },
                  clock)
            : azure::EntraTokenSource::with_certificate(
                  client, std::move(entra), certificate_file(auth.cert_path, auth.cert_password), clock);
    if (!made) return made.error().wrap("ARM credential");
    source = std::move(made).value();
  }
  return ArmCredential(client.executor(), std::move(source), environment.token_audience, std::move(options), clock);
}

boost::asio::awaitable<Result<std::string>> ArmCredential::token() { return State::token(state_); }

std::function<boost::asio::awaitable<Result<std::string>>()> ArmCredential::bearer_source() const {
  return [state = state_]() { return State::token(state); };
}

std::string ArmCredential::describe() const { return state_->source->describe(); }

unsigned ArmCredential::fetches() const {
  auto stats = state_->cache.stats();
  return static_cast<unsigned>(stats.misses + stats.refreshes);
}

}  // namespace podid::controller::cloud
