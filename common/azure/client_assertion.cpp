// SPDX-License-Identifier: Apache-2.0
#include "podid/azure/client_assertion.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "podid/encoding/base64.h"
#include "podid/error.h"

namespace podid::azure {
namespace {

using encoding::base64url_encode;

constexpr int kMinRsaBits = 2048;  // Entra ID refuses shorter keys; saying so here beats an AADSTS later

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using Pkcs12Ptr = std::unique_ptr<PKCS12, Deleter<PKCS12, PKCS12_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;

void free_x509_stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }

// OpenSSL's reason for the last failure, and an empty queue for whoever comes next on this thread.
std::string openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  std::string out;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out = buf;
  }
  ERR_clear_error();
  return out.empty() ? "unknown OpenSSL error" : out;
}


std::string digest(const EVP_MD* md, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) return {};
  return std::string(reinterpret_cast<char*>(out), len);
}

// A PKCS#12 with an empty password may have been written with a NULL one or an empty one; OpenSSL's own
// PKCS12_parse tries both, and so does this MAC check.
bool mac_ok(PKCS12* p12, const std::string& password) {
  if (!PKCS12_mac_present(p12)) return true;
  if (PKCS12_verify_mac(p12, password.c_str(), static_cast<int>(password.size())) == 1) return true;
  return password.empty() && PKCS12_verify_mac(p12, nullptr, 0) == 1;
}

// Loaded into the default library context once, next to the default provider, only when a file needs it:
// PKCS#12 files from older Windows and OpenSSL 1.x tools encrypt the key with RC2-40 or 3DES.
// Kept for the life of the process (the handle is held here, never unloaded).
bool load_legacy_provider() {
  static std::once_flag once;
  static OSSL_PROVIDER* legacy = nullptr;
  std::call_once(once, [] { legacy = OSSL_PROVIDER_try_load(nullptr, "legacy", 1); });
  return legacy != nullptr;
}

bool parse(PKCS12* p12, const std::string& password, EVP_PKEY** key, X509** cert, STACK_OF(X509) * *ca) {
  return PKCS12_parse(p12, password.c_str(), key, cert, ca) == 1;
}

}  // namespace

Result<CertificateKey> CertificateKey::load_pkcs12(std::string_view pkcs12, std::string_view password_view) {
  std::string password(password_view);
  const auto* p = reinterpret_cast<const unsigned char*>(pkcs12.data());
  Pkcs12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(pkcs12.size())));
  if (!p12) {
    std::string reason = openssl_reason();
    // A Secret written with `data:` and already base64 text is decoded once by Kubernetes, leaving base64:
    // DER of a PKCS#12 never starts with an ASCII letter, base64 of it starts with "MI".
    std::string hint = pkcs12.substr(0, 2) == "MI" ? " (it looks base64-encoded: encode the file once, not twice)" : "";
    return invalid_argument("certificate is not a PKCS#12 (DER) file" + hint + ": " + reason);
  }
  if (!mac_ok(p12.get(), password)) {
    ERR_clear_error();
    return make_error(Errc::kRefused, "PKCS#12: wrong password (MAC verification failed)");
  }

  EVP_PKEY* raw_key = nullptr;
  X509* raw_cert = nullptr;
  STACK_OF(X509)* raw_ca = nullptr;
  if (!parse(p12.get(), password, &raw_key, &raw_cert, &raw_ca)) {
    std::string reason = openssl_reason();  // the first attempt's: the retry fails the same way or succeeds
    if (!load_legacy_provider() || !parse(p12.get(), password, &raw_key, &raw_cert, &raw_ca)) {
      ERR_clear_error();
      return invalid_argument("PKCS#12: cannot decrypt the key or certificate: " + reason);
    }
  }
  std::shared_ptr<EVP_PKEY> key(raw_key, EVP_PKEY_free);
  X509Ptr cert(raw_cert);
  free_x509_stack(raw_ca);  // the chain is not sent (no x5c): Entra finds the certificate by thumbprint
  if (!key) return invalid_argument("PKCS#12 holds no private key");
  if (!cert) return invalid_argument("PKCS#12 holds no certificate for its private key");

  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    const char* name = EVP_PKEY_get0_type_name(key.get());
    return make_error(Errc::kNotSupported, std::string("PKCS#12 key is ") + (name ? name : "of an unknown type") +
                                              ", not RSA: certificate credentials are signed RS256");
  }
  if (int bits = EVP_PKEY_get_bits(key.get()); bits < kMinRsaBits) {
    return invalid_argument("PKCS#12 RSA key has " + std::to_string(bits) +
                                                 " bits; Entra ID requires at least " + std::to_string(kMinRsaBits));
  }

  unsigned char* der = nullptr;
  int der_len = i2d_X509(cert.get(), &der);
  if (der_len <= 0) return os_error(EIO, "encode certificate: " + openssl_reason());
  std::string cert_der(reinterpret_cast<char*>(der), static_cast<size_t>(der_len));
  OPENSSL_free(der);

  CertificateKey out;
  out.key_ = std::move(key);
  out.x5t_ = base64url_encode(digest(EVP_sha1(), cert_der));
  out.x5t_s256_ = base64url_encode(digest(EVP_sha256(), cert_der));
  if (out.x5t_.empty() || out.x5t_s256_.empty()) {
    return os_error(EIO, "certificate thumbprint: " + openssl_reason());
  }
  return out;
}

int CertificateKey::key_bits() const { return key_ ? EVP_PKEY_get_bits(key_.get()) : 0; }

Result<std::string> CertificateKey::sign_rs256(std::string_view data) const {
  if (!key_) return invalid_argument("sign with an empty key");
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  // The default RSA padding of EVP_DigestSign is PKCS#1 v1.5, which is what RS256 means.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return os_error(EIO, "RS256 sign: " + openssl_reason());
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return os_error(EIO, "RS256 sign: " + openssl_reason());
  }
  sig.resize(len);
  return sig;
}

Result<std::string> make_client_assertion(const CertificateKey& key, const AssertionClaims& claims) {
  using nlohmann::ordered_json;  // fields in the order the reference shows them, easier to read in a capture
  auto now = std::chrono::floor<std::chrono::seconds>(claims.now.time_since_epoch()).count();
  ordered_json header = {{"alg", "RS256"}, {"typ", "JWT"}, {"x5t", key.x5t()}, {"x5t#S256", key.x5t_s256()}};
  ordered_json body = {{"aud", claims.audience},
                       {"iss", claims.client_id},
                       {"sub", claims.client_id},
                       {"jti", claims.jti},
                       {"nbf", now},
                       {"iat", now},
                       {"exp", now + kAssertionLifetime.count()}};
  std::string signing_input = base64url_encode(header.dump()) + "." + base64url_encode(body.dump());
  auto sig = key.sign_rs256(signing_input);
  if (!sig) return sig.error().wrap("client assertion");
  return signing_input + "." + base64url_encode(*sig);
}

Result<std::string> make_client_assertion(std::string_view pkcs12, std::string_view password,
                                          const AssertionClaims& claims) {
  auto key = CertificateKey::load_pkcs12(pkcs12, password);
  if (!key) return key.error();
  return make_client_assertion(*key, claims);
}

std::string random_uuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) {
    // OpenSSL's DRBG failing is near impossible; the kernel's generator is as good for a jti.
    ERR_clear_error();
    std::random_device rd;
    for (auto& x : b) x = static_cast<unsigned char>(rd());
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

}  // namespace podid::azure
