// SPDX-License-Identifier: Apache-2.0
#include "controller/cloud/arm_credential.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <variant>

#include "podid/azure/access_token.h"
#include "podid/azure/entra_token_source.h"
#include "podid/azure/imds_token_source.h"
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
  // One upstream call and the callers waiting for it; `done` is cancelled when `result` is set.
  struct Flight {
    explicit Flight(const asio::any_io_executor& ex) : done(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer done;
    std::optional<Result<std::string>> result;
  };

  State(std::shared_ptr<azure::TokenSource> s, std::string r, ArmCredentialOptions o, const WallClock& c)
      : source(std::move(s)), resource(std::move(r)), options(std::move(o)), clock(c) {}

  std::shared_ptr<azure::TokenSource> source;
  std::string resource;
  ArmCredentialOptions options;
  const WallClock& clock;

  std::optional<azure::AccessToken> kept;
  system_clock::time_point refresh_at{};
  system_clock::time_point next_attempt{};  // after a failed refresh while `kept` was still good
  std::shared_ptr<Flight> flight;           // the fetch in progress, if any
  unsigned fetches = 0;

  bool usable(system_clock::time_point now) const { return kept && now + kStaleGrace < kept->expires_on; }

  // refresh_margin before expiry, or half the lifetime when that is later.
  void keep(azure::AccessToken token) {
    const auto lifetime = token.expires_on - token.issued_at;
    refresh_at = std::max(token.expires_on - options.refresh_margin, token.issued_at + lifetime / 2);
    kept = std::move(token);
  }

  static asio::awaitable<Result<std::string>> token(std::shared_ptr<State> self) {
    const auto now = self->clock.now();
    if (self->kept && (now < self->refresh_at || (now < self->next_attempt && self->usable(now)))) {
      co_return self->kept->access_token;
    }
    // Taken before co_spawn: the fetch may run to its end inside co_spawn (which dispatches) and clear it.
    std::shared_ptr<Flight> flight = self->flight;
    if (!flight) {
      auto executor = co_await asio::this_coro::executor;
      flight = std::make_shared<Flight>(executor);
      self->flight = flight;
      asio::co_spawn(executor, fetch(self, flight), [](std::exception_ptr e) {
        if (e) log::error("ARM token fetch ended by an exception");
      });
    }
    if (!flight->result) co_await flight->done.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!flight->result) {
      co_return Error{std::make_error_code(std::errc::operation_canceled), "ARM token: wait cancelled"};
    }
    co_return *flight->result;
  }

  static asio::awaitable<void> fetch(std::shared_ptr<State> self, std::shared_ptr<Flight> flight) {
    ++self->fetches;
    azure::FetchContext context;  // named: GCC 12 mishandles temporaries in a co_await expression
    auto outcome = co_await self->source->fetch(self->resource, context);
    const auto now = self->clock.now();
    if (auto* token = std::get_if<azure::AccessToken>(&outcome)) {
      self->keep(*token);
      flight->result = token->access_token;
      log::info("ARM token obtained",
                {{"source", self->source->describe()},
                 {"expires_in_s",
                  std::chrono::duration_cast<std::chrono::seconds>(token->expires_on - now).count()}});
    } else {
      auto error = fetch_error(std::get<azure::UpstreamFailure>(outcome), self->source->describe());
      if (self->usable(now)) {
        // A refresh failed but the kept token is still good: use it, try again later.
        self->next_attempt = now + self->options.refresh_retry_delay;
        flight->result = self->kept->access_token;
        log::warn("ARM token refresh failed, keeping the current token", {{"error", error.message()}});
      } else {
        flight->result = error;
        log::error("ARM token unavailable", {{"error", error.message()}});
      }
    }
    if (self->flight == flight) self->flight.reset();
    flight->done.cancel();
  }
};

ArmCredential::ArmCredential(std::shared_ptr<azure::TokenSource> source, std::string resource,
                             ArmCredentialOptions options, const WallClock& clock)
    : state_(std::make_shared<State>(std::move(source), std::move(resource), std::move(options), clock)) {}

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
  return ArmCredential(std::move(source), environment.token_audience, std::move(options), clock);
}

boost::asio::awaitable<Result<std::string>> ArmCredential::token() { return State::token(state_); }

std::function<boost::asio::awaitable<Result<std::string>>()> ArmCredential::bearer_source() const {
  return [state = state_]() { return State::token(state); };
}

std::string ArmCredential::describe() const { return state_->source->describe(); }

unsigned ArmCredential::fetches() const { return state_->fetches; }

}  // namespace podid::controller::cloud
