// SPDX-License-Identifier: Apache-2.0
//
// Test-only PKI made with OpenSSL at run time: RSA and EC keys, self-signed certificates, PKCS#12 files, and
// the checks an Entra-side verifier makes on a client assertion (base64url decoding and RS256 verification),
// written independently of the code under test.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

namespace podid::azure::testing {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

inline Cert self_signed(EVP_PKEY* key) {
  Cert x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 42);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_set_pubkey(x.get(), key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("podid-test-sp"), -1, -1,
                             0);
  X509_set_issuer_name(x.get(), name);
  EXPECT_GT(X509_sign(x.get(), key, EVP_sha256()), 0);
  return x;
}

inline std::string pkcs12(EVP_PKEY* key, X509* cert, const char* password) {
  PKCS12* p = PKCS12_create(password, "podid-test-sp", key, cert, nullptr, 0, 0, 0, 0, 0);
  EXPECT_NE(p, nullptr);
  unsigned char* der = nullptr;
  int len = i2d_PKCS12(p, &der);
  PKCS12_free(p);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// OpenSSL's base64 with the url alphabet mapped back.
inline std::string b64url_decode(std::string s) {
  for (auto& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  size_t pad = (4 - s.size() % 4) % 4;
  s.append(pad, '=');
  std::vector<unsigned char> out(s.size());
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  EXPECT_GE(n, 0);
  return std::string(reinterpret_cast<char*>(out.data()), static_cast<size_t>(n) - pad);
}

inline std::string b64url_of_digest(X509* cert, const EVP_MD* md) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert, md, buf, &len);
  std::vector<unsigned char> out(4 * ((len + 2) / 3) + 1);
  int n = EVP_EncodeBlock(out.data(), buf, static_cast<int>(len));
  std::string s(reinterpret_cast<char*>(out.data()), static_cast<size_t>(n));
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (auto& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return s;
}

inline bool verify_rs256(EVP_PKEY* pub, const std::string& input, const std::string& sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pub) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

// One RSA key per test binary: generating 2048-bit keys is the slow part.
struct RsaIdentity {
  Key key{EVP_RSA_gen(2048)};
  Cert cert{self_signed(key.get())};
  std::string p12 = pkcs12(key.get(), cert.get(), "p@ss w0rd");
  static constexpr const char* kPassword = "p@ss w0rd";
};
inline const RsaIdentity& rsa_identity() {
  static RsaIdentity id;
  return id;
}

}  // namespace podid::azure::testing
