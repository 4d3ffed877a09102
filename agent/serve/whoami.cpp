// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/whoami.h"

#include <arpa/inet.h>

#include <nlohmann/json.hpp>

namespace podid::agent {
namespace {

std::string address_string(uint8_t family, const uint8_t addr[16]) {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family == PODID_AF_INET ? AF_INET : AF_INET6, addr, buf, sizeof(buf));
  return buf;
}

nlohmann::json optional_string(const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nlohmann::json(); }

}  // namespace

http::Response handle_whoami(const http::Request& req, const Caller& caller, const CgroupPathOf& path_of) {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  if (req.method() != boost::beast::http::verb::get) {
    return http::json_response(req, http::Status::method_not_allowed,
                               R"({"error":"invalid_request","error_description":"only GET is served"})");
  }
  if (path != kWhoamiPath) {
    return http::json_response(req, http::Status::not_found,
                               nlohmann::json{{"error", "not_found"},
                                              {"error_description", "podid-agent serves " + std::string(kWhoamiPath) +
                                                                        " only in this mode (no Kubernetes)"}}
                                   .dump());
  }
  const auto& c = caller.ident.caller;
  auto path_or_null = [&](uint64_t id) { return optional_string(path_of ? path_of(id) : std::nullopt); };
  nlohmann::json body = {
      {"cgroup_id", c.cgroup_id},
      {"cgroup_path", path_or_null(c.cgroup_id)},
      {"ancestor_cgroups",
       nlohmann::json::array({{{"id", c.ancestor_cgroup_id[0]}, {"path", path_or_null(c.ancestor_cgroup_id[0])}},
                              {{"id", c.ancestor_cgroup_id[1]}, {"path", path_or_null(c.ancestor_cgroup_id[1])}}})},
      {"netns_cookie", c.netns_cookie},
      {"pid", static_cast<uint32_t>(c.pid_tgid >> 32)},
      {"tid", static_cast<uint32_t>(c.pid_tgid & 0xffffffffu)},
      {"original_destination", address_string(c.orig_family, c.orig_daddr) + ":" + std::to_string(ntohs(c.orig_dport))},
      {"socket_cookie", caller.ident.sock_cookie},
      {"record_age_us", std::chrono::duration_cast<std::chrono::microseconds>(caller.record_age).count()},
      {"pod_uid", caller.pod_uid.empty() ? nlohmann::json() : nlohmann::json(caller.pod_uid)},
  };
  return http::json_response(req, http::Status::ok, body.dump());
}

http::Response refusal_response(Refusal reason) {
  http::Request none;
  none.version(11);
  auto res = http::json_response(
      none, http::Status::forbidden,
      nlohmann::json{{"error", "forbidden"},
                     {"error_description", "podid-agent could not tell from the kernel which pod made this connection"},
                     {"reason", std::string(refusal_name(reason))}}
          .dump());
  res.keep_alive(false);
  return res;
}

}  // namespace podid::agent
