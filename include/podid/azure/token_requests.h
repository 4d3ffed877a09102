// SPDX-License-Identifier: Apache-2.0
//
// What the token sources send upstream, built without a socket so it is tested byte for byte:
// the IMDS token GET (reference/azure-wire-formats.md §1.1) and the Entra ID v2 client-credentials POST (§4.2).
//
// Errors: only the Entra endpoint can be refused (a tenant or authority that would change the URL's meaning,
// a secret about to travel in clear): Result/Status with EINVAL and the offending value.
#pragma once

#include <string>
#include <string_view>

#include "podid/http/client.h"  // Url
#include "podid/http/server.h"  // Request
#include "podid/result.h"

namespace podid::azure {

inline constexpr std::string_view kImdsApiVersion = "2018-02-01";  // the one every SDK sends
inline constexpr std::string_view kDefaultEntraAuthority = "https://login.microsoftonline.com/";

// GET {base_path}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=<enc>[&client_id=<enc>] with
// `Metadata: true`. base_path is the upstream base URL's path ("/" for http://169.254.169.254). An empty
// client_id asks for the system-assigned identity.
http::Request imds_token_request(std::string_view base_path, std::string_view resource, std::string_view client_id);

// "{authority without trailing slashes}/{tenant}/oauth2/v2.0/token". The tenant must be a GUID or a domain
// name (letters, digits, '-', '.', '_'); the authority must not carry a query or fragment.
Result<std::string> entra_token_endpoint(std::string_view authority, std::string_view tenant);

// A client secret or assertion must not cross the network in clear: https, or http to a loopback host (the
// test emulators). `host` as http::Url holds it (IPv6 without brackets).
Status check_entra_transport(std::string_view scheme, std::string_view host);

// Both of the above for one identity: the endpoint as text (also a client assertion's `aud`) and as a URL.
struct EntraEndpoint {
  std::string endpoint;
  http::Url url;
};
Result<EntraEndpoint> entra_endpoint(std::string_view authority, std::string_view tenant);

// The scope for a resource: "<resource>/.default", slash kept ("https://management.azure.com/" ->
// "https://management.azure.com//.default"), which is how SDKs map back and forth; a resource already ending in
// "/.default" is kept as it is (the azwi proxy's getScope).
std::string entra_scope(std::string_view resource);

// The form bodies: client_id, scope, grant_type=client_credentials, then the credential.
std::string entra_secret_form(std::string_view client_id, std::string_view resource, std::string_view secret);
std::string entra_assertion_form(std::string_view client_id, std::string_view resource, std::string_view assertion);

// POST <target> with the form as body, form and JSON content types.
http::Request entra_token_request(std::string_view target, std::string form);

}  // namespace podid::azure
