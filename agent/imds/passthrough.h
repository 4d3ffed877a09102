// SPDX-License-Identifier: Apache-2.0
//
// Relaying a pod's request for another IMDS endpoint (instance metadata, scheduled events, attested data, ...)
// to the real IMDS, under a policy. The real IMDS answers with the *node's* view, and its token endpoint with
// the node's identities, so the rule is an allow-list on a path that must already be canonical:
//
//   - the token path and anything resembling it (imds_paths.h) is never relayed (400, as the token endpoint),
//     nor is anything else under /metadata/identity but /metadata/identity/info (403 here; the service answers
//     those 404 before they get here), whatever the allow-list says;
//   - the path must be plain: `/`, ASCII letters, digits, `-`, `_`; no escapes, dots, `\`, `;`, empty or
//     dot segments. Every IMDS endpoint fits; refusing the rest (403) makes decoding and dot-segment tricks
//     (`/metadata/instance/../identity/oauth2/token`, `%2e%2e`, `%2F`) unrepresentable instead of hoping the
//     agent normalises exactly as IMDS does;
//   - the path must be one of `allowed_prefixes` or below one (whole segments, any case: `/metadata/instancex`
//     is not under `/metadata/instance`), else 403;
//   - instance metadata can be blocked outright (403), as NMI's --block-instance-metadata did;
//   - methods GET and POST only (scheduled events are acknowledged by POST), else 403;
//   - `Metadata: true` and no `X-Forwarded-For`, as for the token endpoint (the 88-byte 400). IMDS wants the
//     header on every endpoint (its `/versions` exception is about api-version), and NMI checked it here too.
//
// What is relayed: method, target, body and the pod's headers except hop-by-hop ones (Connection and the
// fields it names, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade), Expect, Host and
// Content-Length (the client sets those for its upstream) and proxy headers (Forwarded, Via, X-Forwarded-*,
// X-Real-IP): IMDS refuses requests that look forwarded, and the agent never adds any.
//
// Errors: ImdsError values (imds_errors.h); nothing throws.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "agent/imds/imds_errors.h"
#include "podid/http/server.h"

namespace podid::agent::imds {

struct PassthroughPolicy {
  bool enabled = true;                   // false: every non-token request is refused (403)
  bool block_instance_metadata = false;  // true: `/metadata/instance*` is refused (403) even if allowed below
  // Whole-segment, case-insensitive prefixes of the paths that may be relayed.
  std::vector<std::string> allowed_prefixes = {
      "/metadata/instance",        "/metadata/versions", "/metadata/identity/info",
      "/metadata/scheduledevents", "/metadata/attested", "/metadata/loadbalancer",
  };
};

// The request to send upstream, or the answer to give the pod. Send it with
// `client.send(imds_url.with_target(std::string(request.target())), request)`: the client sets Host.
std::variant<http::Request, ImdsError> prepare_passthrough(const http::Request& from_pod,
                                                           const PassthroughPolicy& policy);

// IMDS's answer for the pod: status, reason, headers (IMDS's `Server` included) and body, minus hop-by-hop
// headers; Content-Length recomputed; the pod's HTTP version and keep-alive.
http::Response relay_response(const http::Response& upstream, const http::Request& from_pod);

}  // namespace podid::agent::imds
