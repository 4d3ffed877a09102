// SPDX-License-Identifier: Apache-2.0
#include "tls_context.h"
#include "podid/error.h"

#include <openssl/x509v3.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/address.hpp>

namespace podid::http::detail {
namespace ssl = boost::asio::ssl;

Result<std::shared_ptr<ssl::context>> make_tls_context(const TlsSettings& settings) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression, ec);

  if (settings.ca_pem.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) return Error{ec, "tls: load the system's CA paths"};
  } else {
    ctx->add_certificate_authority(boost::asio::buffer(settings.ca_pem), ec);
    if (ec) return Error{ec, "tls: certificate authority PEM"};
  }

  bool has_cert = !settings.client_cert_pem.empty();
  bool has_key = !settings.client_key_pem.empty();
  if (has_cert != has_key) {
    return invalid_argument("tls: a client certificate needs both the certificate and the key");
  }
  if (has_cert) {
    ctx->use_certificate_chain(boost::asio::buffer(settings.client_cert_pem), ec);
    if (ec) return Error{ec, "tls: client certificate PEM"};
    ctx->use_private_key(boost::asio::buffer(settings.client_key_pem), ssl::context::pem, ec);
    if (ec) return Error{ec, "tls: client key PEM"};
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      return invalid_argument("tls: client key does not match the client certificate");
    }
  }

  ctx->set_verify_mode(settings.verify_peer ? ssl::verify_peer : ssl::verify_none, ec);
  if (ec) return Error{ec, "tls: set verify mode"};
  return ctx;
}

bool configure_tls_connection(SSL* ssl, const std::string& name, bool verify_peer) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(name, ec);
  bool is_ip = !ec;
  if (!is_ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) return false;
  if (!verify_peer) return true;
  // The name check is OpenSSL's own (part of chain verification) rather than a verify callback, so that a
  // mismatch is reported as "hostname mismatch" instead of a bare "certificate verify failed".
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (is_ip) return X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) == 1;
  return SSL_set1_host(ssl, name.c_str()) == 1;
}

std::string verify_failure(SSL* ssl) {
  long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) return "";
  return X509_verify_cert_error_string(result);
}

}  // namespace podid::http::detail
