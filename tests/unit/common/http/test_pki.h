// SPDX-License-Identifier: Apache-2.0
//
// Throw-away certificates for TLS tests, minted in-process with OpenSSL (EC P-256, valid for a day): a CA
// and the server or client certificates it issues. Nothing touches the disk.
#pragma once

#include <string>
#include <vector>

namespace podid::testing {

struct CertAndKey {
  std::string cert_pem;
  std::string key_pem;
};

class TestCa {
 public:
  // A new CA with subject CN=`name`.
  explicit TestCa(const std::string& name = "podid test CA");

  const CertAndKey& ca() const { return ca_; }

  // A leaf certificate signed by this CA. `dns` and `ips` become its subjectAltName entries; `client` sets
  // extendedKeyUsage clientAuth instead of serverAuth.
  CertAndKey issue(const std::string& common_name, const std::vector<std::string>& dns,
                   const std::vector<std::string>& ips, bool client = false) const;

 private:
  CertAndKey ca_;
};

}  // namespace podid::testing
