// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/admission.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <boost/asio/ip/address.hpp>
#include <cstring>

#include "agent/imds/imds_errors.h"
#include "podid/log.h"

namespace podid::agent {
namespace asio = boost::asio;

namespace {

// The peer's address as pods' IPs are written in the API (an IPv4-mapped IPv6 peer as plain IPv4).
std::string address_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    asio::ip::address_v4::bytes_type b;
    std::memcpy(b.data(), &in.sin_addr, 4);
    return asio::ip::address_v4(b).to_string();
  }
  if (ss.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), &in6.sin6_addr, 16);
    asio::ip::address_v6 a(b);
    if (a.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a).to_string();
    return a.to_string();
  }
  return {};
}

uint16_t port_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  return 0;
}

void count(const std::function<void()>& f) {
  if (f) f();
}

}  // namespace

ConnectionAdmission::ConnectionAdmission(AdmissionDeps deps, uint32_t max_connections_per_pod)
    : deps_(std::move(deps)), per_pod_(max_connections_per_pod), refused_per_source_(kMaxRefusedPerSource) {}

http::Admission ConnectionAdmission::admit(http::tcp::socket& socket) {
  sockaddr_storage peer{}, local{};
  socklen_t plen = sizeof(peer), llen = sizeof(local);
  if (::getpeername(socket.native_handle(), reinterpret_cast<sockaddr*>(&peer), &plen) != 0 ||
      ::getsockname(socket.native_handle(), reinterpret_cast<sockaddr*>(&local), &llen) != 0) {
    return http::Drop{};  // the peer is already gone
  }
  return admit(peer, local);
}

http::Admission ConnectionAdmission::admit(const sockaddr_storage& peer, const sockaddr_storage& local) {
  std::string peer_ip = address_of(peer);
  auto attributed = deps_.attributor.attribute(peer, local);
  if (auto* refusal = std::get_if<Refusal>(&attributed)) {
    return refuse(*refusal, peer_ip, port_of(peer));
  }
  count(deps_.counters.attributed);
  auto& attribution = std::get<Attribution>(attributed);
  Caller caller{.ident = attribution.ident, .record_age = attribution.age, .peer_ip = std::move(peer_ip)};
  if (deps_.pod_uid_of) caller.pod_uid = deps_.pod_uid_of(caller.ident.caller);

  std::shared_ptr<void> slot;
  if (!caller.pod_uid.empty()) {
    slot = per_pod_.acquire(caller.pod_uid);
    if (!slot) {
      count(deps_.counters.pod_over_cap);
      static log::Throttle throttle(20);
      if (auto suppressed = throttle.admit()) {
        log::warn("connection refused: too many connections from one pod",
                  {{"audit", true}, {"pod_uid", caller.pod_uid}, {"suppressed", *suppressed}});
      }
      http::Request none;
      none.version(11);
      return http::AnswerAndClose{imds::to_response(none, imds::too_many_requests(std::chrono::seconds(1)))};
    }
  }
  return serve(std::move(caller), std::move(slot));
}

http::Admission ConnectionAdmission::refuse(Refusal reason, const std::string& peer_ip, uint16_t port) {
  // A source that keeps connecting without a record gets an answer for the first few at a time, then only a
  // close: the answers cost a write each, the closes nothing.
  auto held = refused_per_source_.acquire(peer_ip);
  if (deps_.counters.refused) deps_.counters.refused(held ? refusal_name(reason) : "source_over_cap");
  static log::Throttle throttle(50);
  if (auto suppressed = throttle.admit()) {
    log::warn("connection refused", {{"audit", true},
                                     {"reason", std::string(held ? refusal_name(reason) : "source_over_cap")},
                                     {"peer", peer_ip + ":" + std::to_string(port)},
                                     {"suppressed", *suppressed}});
  }
  if (!held) return http::Drop{};
  return http::AnswerAndClose{refusal_response(reason), std::move(held)};
}

http::ReplayingHandler ConnectionAdmission::serve(Caller caller, std::shared_ptr<void> slot) {
  // The handler holds the pod's slot: released when the connection (and so its handler) goes.
  return [this, caller = std::move(caller), slot = std::move(slot)](
             const http::Request& req) -> asio::awaitable<http::Answer> {
    if (req.target().starts_with(kWhoamiPath) || !deps_.imds) {
      co_return http::Answer{handle_whoami(req, caller, deps_.cgroup_path_of)};
    }
    co_return co_await deps_.imds(req, caller);
  };
}

}  // namespace podid::agent
