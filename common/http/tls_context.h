// SPDX-License-Identifier: Apache-2.0
//
// OpenSSL set-up for http::Client: one client context per Client (trust anchors, client certificate), and the
// per-connection settings (SNI, which name the peer's certificate must carry).
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "podid/http/client.h"
#include "podid/result.h"

namespace podid::http::detail {

// A TLS client context: TLS 1.2 or later, the CA bundle (or the system's default paths), the optional client
// certificate and key, peer verification unless settings.verify_peer is false. Errors are OpenSSL's, with
// the PEM that failed as context.
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const TlsSettings& settings);

// Per connection: SNI (only for DNS names: RFC 6066 forbids IP literals there) and the name or address the
// peer's certificate must match. Returns false if OpenSSL refused the name.
bool configure_tls_connection(SSL* ssl, const std::string& name, bool verify_peer);

// After a failed handshake: why the peer's certificate was refused ("hostname mismatch", "unable to get local
// issuer certificate"), or "" when verification was not the cause.
std::string verify_failure(SSL* ssl);

}  // namespace podid::http::detail
