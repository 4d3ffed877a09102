// SPDX-License-Identifier: Apache-2.0
//
// Which IMDS endpoint a request target names. The agent serves the token endpoint itself and may relay a
// few others to the real IMDS (passthrough.h); anything that a lenient server could read as the token endpoint
// must never be relayed, because the real IMDS would answer it with the *node's* identities.
//
// Azure's IMDS is not documented to be strict about paths (it matches `/metadata` case-insensitively, and
// servers of its lineage decode percent-escapes, accept `\` for `/` and collapse dot segments), so this module
// is deliberately paranoid: the exact token path is recognised byte for byte, and anything that *resembles*
// it after every decoding a server might apply is kMalformedToken, answered 400 and never forwarded.
//
// Errors: none; these are total functions on untrusted text.
#pragma once

#include <string>
#include <string_view>

namespace podid::agent::imds {

enum class PathKind {
  kToken,           // `/metadata/identity/oauth2/token`, `metadata` in any case, at most one trailing `/`
  kMalformedToken,  // resembles the token path (double slashes, dot segments, escapes, `;`, mis-casing, ...)
  // Under `/metadata/identity` (read leniently) but neither the token path nor exactly `/metadata/identity/info`.
  // podid owns the identity category: the real IMDS would answer these for the node. MSI v2's
  // `/metadata/identity/issuecredential` issues a certificate for any identity on the VM, and its
  // `getPlatformMetadata` announces it (landscape-2026 §3.3). Answered 404, as on a host without MSI v2, and
  // never forwarded whatever the passthrough policy says.
  kIdentityNotServed,
  kOther,
};

// For kIdentityNotServed paths: true for MSI v2's two endpoints (`getPlatformMetadata`, `issuecredential`), which
// an audit line names as such.
bool is_msi_v2_path(std::string_view target);

// `target` is the request target as received (origin-form, query included).
PathKind classify_path(std::string_view target);

// `/metadata/instance...` as a lenient server would read it (any case, escapes decoded, dot segments removed).
// Broad on purpose: it decides a block.
bool is_instance_metadata(std::string_view target);

// The path of `target` (query dropped) as a lenient server might read it: percent-escapes decoded (repeatedly,
// so double encoding does not hide anything; `%uXXXX` too), `\` read as `/`, ASCII and full-width letters
// lower-cased, `;` segment parameters dropped (`..;` is `..` to Tomcat-style servers), repeated slashes
// collapsed and `.`/`..` segments resolved. Not a canonicaliser for forwarding (the passthrough refuses
// anything non-canonical instead); a lens for matching.
std::string normalize_path(std::string_view target);

// The path part of a request target: everything before the first `?`.
std::string_view path_of(std::string_view target);

}  // namespace podid::agent::imds
