// SPDX-License-Identifier: Apache-2.0
#include "podid/azure/sp_credential.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <mutex>
#include <random>

#include "podid/encoding/base64.h"
#include "podid/error.h"

namespace podid::azure {
namespace {

std::string key_list(const std::map<std::string, std::string>& data) {
  std::string out;
  for (const auto& [k, v] : data) out += (out.empty() ? "" : ", ") + k;
  return out.empty() ? "none" : out;
}

const std::array<unsigned char, 32>& process_key() {
  static std::array<unsigned char, 32> key;
  static std::once_flag once;
  std::call_once(once, [] {
    if (RAND_bytes(key.data(), key.size()) != 1) {
      std::random_device rd;
      for (auto& b : key) b = static_cast<unsigned char>(rd());
    }
  });
  return key;
}

// Each part length-prefixed, so ("ab", "c") and ("a", "bc") differ.
std::string fingerprint(std::initializer_list<std::string_view> parts) {
  std::string input;
  for (auto part : parts) {
    input += std::to_string(part.size()) + ":";
    input += part;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const auto& key = process_key();
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &len);
  return encoding::base64url_encode(std::string_view(reinterpret_cast<char*>(mac), std::min<unsigned>(len, 12)));
}

}  // namespace

Result<SecretCredential> secret_credential_from_data(const std::map<std::string, std::string>& data) {
  auto it = data.find(std::string(kClientSecretKey));
  if (it == data.end()) {
    if (data.size() != 1) {
      return invalid_argument("client secret: the Secret has no key \"clientSecret\" and " +
                     std::string(data.empty() ? "no other key" : "several keys (" + key_list(data) + ")") +
                     "; name the key clientSecret");
    }
    it = data.begin();
  }
  if (it->second.empty()) return invalid_argument("client secret: Secret key \"" + it->first + "\" is empty");
  return SecretCredential{it->second};
}

Result<CertificateCredential> certificate_credential_from_data(const std::map<std::string, std::string>& data) {
  auto cert = data.find(std::string(kCertificateKey));
  if (cert == data.end() || cert->second.empty()) {
    return invalid_argument("client certificate: the Secret has no non-empty key \"certificate\" (keys: " + key_list(data) +
                   ")");
  }
  CertificateCredential out{cert->second, {}};
  if (auto pw = data.find(std::string(kCertificatePasswordKey)); pw != data.end()) out.password = pw->second;
  return out;
}

std::string credential_fingerprint(const SecretCredential& credential) {
  return fingerprint({"secret", credential.client_secret});
}

std::string credential_fingerprint(const CertificateCredential& credential) {
  return fingerprint({"certificate", credential.pkcs12, credential.password});
}

}  // namespace podid::azure
