// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/decision_routes.h"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "podid/http/query.h"
#include "podid/log.h"

namespace podid::agent {
namespace {

http::Response error(const http::Request& req, http::Status status, std::string_view code, std::string description) {
  return http::json_response(req, status,
                             nlohmann::json{{"error", code}, {"error_description", std::move(description)}}.dump());
}

bool plausible_uid(std::string_view uid) {
  if (uid.empty() || uid.size() > 64) return false;
  for (char c : uid) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
  }
  return true;
}

std::string utc_millis(std::chrono::system_clock::time_point at) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];  // room for any int the format could print (GCC checks)
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

nlohmann::json record_json(const DecisionRecord& r, const DecisionsView& view) {
  nlohmann::json truncated = nlohmann::json::array();
  auto text = [&truncated](std::string_view name, const auto& field) {
    if (field.truncated()) truncated.push_back(name);
    return std::string(field.view());
  };
  auto path = view.cgroup_path ? view.cgroup_path(r.cgroup_id) : std::nullopt;
  nlohmann::json out = {
      {"time", utc_millis(r.at)},
      {"cgroup_id", r.cgroup_id},
      {"cgroup_path", path ? nlohmann::json(*path) : nlohmann::json()},
      {"client_id", text("client_id", r.client_id)},
      {"resource", text("resource", r.resource)},
      {"decision", text("decision", r.decision)},
      {"reason", text("reason", r.reason)},
      {"source", text("source", r.source)},
      {"status", r.status},
      {"latency_us", r.latency_us},
  };
  if (!r.subject.view().empty()) out["subject"] = text("subject", r.subject);
  if (!truncated.empty()) out["truncated"] = std::move(truncated);
  return out;
}

}  // namespace

bool is_node_local_peer(const boost::asio::ip::address& peer) {
  if (peer.is_v4()) return peer.to_v4().is_loopback();
  const auto v6 = peer.to_v6();
  if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).is_loopback();
  return v6.is_loopback();
}

http::Response handle_decisions(const http::Request& req, const DecisionsView& view) {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  if (path != kDecisionsPath) {
    return error(req, http::Status::not_found, "not_found", "this listener serves " + std::string(kDecisionsPath));
  }
  if (req.method() != boost::beast::http::verb::get) {
    return error(req, http::Status::method_not_allowed, "invalid_request", "only GET is served");
  }
  auto uid = http::query_value(target, "pod_uid");  // pod UIDs need no decoding: others are refused
  if (!uid || !plausible_uid(*uid)) {
    return error(req, http::Status::bad_request, "invalid_request",
                 "pod_uid is required: the pod's metadata.uid (letters, digits and '-', at most 64)");
  }
  const std::string pod_uid(*uid);
  auto cgroup = view.pod_cgroup ? view.pod_cgroup(pod_uid) : std::nullopt;
  auto kept = view.log ? view.log->of(pod_uid) : std::nullopt;
  nlohmann::json decisions = nlohmann::json::array();
  if (kept) {
    for (auto it = kept->newest_last.rbegin(); it != kept->newest_last.rend(); ++it) {
      decisions.push_back(record_json(*it, view));
    }
  }
  nlohmann::json body = {
      {"node", view.node},
      {"pod_uid", pod_uid},
      {"namespace", kept ? kept->ns : ""},
      {"pod", kept ? kept->name : ""},
      {"cgroup", cgroup ? nlohmann::json{{"id", cgroup->id}, {"path", cgroup->path}} : nlohmann::json()},
      {"recorded", kept ? kept->recorded : 0},
      {"kept_per_pod", view.log ? view.log->per_pod() : 0},
      {"decisions", std::move(decisions)},
  };
  return http::json_response(req, http::Status::ok, body.dump());
}

http::ConnectionHandler decisions_listener(const DecisionsView& view, std::function<void()> refused) {
  return [&view, refused = std::move(refused)](http::tcp::socket& socket) -> http::Admission {
    boost::system::error_code ec;
    auto peer = socket.remote_endpoint(ec);
    if (ec || !is_node_local_peer(peer.address())) {
      if (refused) refused();
      static log::Throttle throttle(20);
      if (auto suppressed = throttle.admit()) {
        log::warn("decisions connection refused: not from this node",
                  {{"peer", ec ? ec.message() : peer.address().to_string()}, {"suppressed", *suppressed}});
      }
      return http::Drop{};
    }
    return http::sync_handler([&view](const http::Request& req) { return handle_decisions(req, view); });
  };
}

}  // namespace podid::agent
