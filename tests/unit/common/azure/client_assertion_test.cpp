// SPDX-License-Identifier: Apache-2.0
#include "podid/azure/client_assertion.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <regex>

#include "podid/encoding/base64.h"
#include "test_pki.h"

namespace podid::azure {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

const std::chrono::system_clock::time_point kNow{std::chrono::seconds{1'795'517'028}};
const std::string kClientId = "11111111-2222-3333-4444-555555555555";
const std::string kAudience =
    "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token";

using namespace testing;

const RsaIdentity& fixture() { return rsa_identity(); }

TEST(ClientAssertion, HeaderClaimsAndSignature) {
  const auto& f = fixture();
  AssertionClaims claims{kClientId, kAudience, kNow + 700ms, "d0dc7008-1b2c-4d5e-8f90-123456789abc"};
  auto jwt = make_client_assertion(f.p12, RsaIdentity::kPassword, claims);
  ASSERT_TRUE(jwt.ok()) << jwt.error().message();

  auto dot1 = jwt->find('.'), dot2 = jwt->rfind('.');
  ASSERT_NE(dot1, dot2);
  EXPECT_EQ(jwt->find_first_of("+/="), std::string::npos);  // base64url, no padding
  json header = json::parse(b64url_decode(jwt->substr(0, dot1)));
  json body = json::parse(b64url_decode(jwt->substr(dot1 + 1, dot2 - dot1 - 1)));
  std::string sig = b64url_decode(jwt->substr(dot2 + 1));

  EXPECT_EQ(header, (json{{"alg", "RS256"},
                          {"typ", "JWT"},
                          {"x5t", b64url_of_digest(f.cert.get(), EVP_sha1())},
                          {"x5t#S256", b64url_of_digest(f.cert.get(), EVP_sha256())}}));
  EXPECT_EQ(header["x5t"].get<std::string>().size(), 27u);
  EXPECT_EQ(header["x5t#S256"].get<std::string>().size(), 43u);
  EXPECT_EQ(body, (json{{"aud", kAudience},
                        {"iss", kClientId},
                        {"sub", kClientId},
                        {"jti", "d0dc7008-1b2c-4d5e-8f90-123456789abc"},
                        {"nbf", 1795517028},
                        {"iat", 1795517028},
                        {"exp", 1795517628}}));
  EXPECT_EQ(sig.size(), 256u);
  EXPECT_TRUE(verify_rs256(X509_get0_pubkey(f.cert.get()), jwt->substr(0, dot2), sig));
  // And the signature covers the claims: one changed byte fails verification.
  std::string tampered = jwt->substr(0, dot2);
  tampered[dot1 + 5] ^= 1;
  EXPECT_FALSE(verify_rs256(X509_get0_pubkey(f.cert.get()), tampered, sig));
}

TEST(ClientAssertion, LoadedKeySignsManyAssertions) {
  const auto& f = fixture();
  auto key = CertificateKey::load_pkcs12(f.p12, RsaIdentity::kPassword);
  ASSERT_TRUE(key.ok()) << key.error().message();
  EXPECT_EQ(key->key_bits(), 2048);
  auto a = make_client_assertion(*key, {kClientId, kAudience, kNow, random_uuid()});
  auto b = make_client_assertion(*key, {kClientId, kAudience, kNow, random_uuid()});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);  // distinct jti
}

TEST(ClientAssertion, WrongPasswordIsAClearError) {
  auto r = CertificateKey::load_pkcs12(fixture().p12, "wrong");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, std::errc::permission_denied);
  EXPECT_NE(r.error().context.find("wrong password"), std::string::npos) << r.error().context;
  EXPECT_EQ(r.error().context.find("wrong\""), std::string::npos);
}

TEST(ClientAssertion, EmptyPasswordFileLoads) {
  const auto& f = fixture();
  auto r = CertificateKey::load_pkcs12(pkcs12(f.key.get(), f.cert.get(), ""), "");
  EXPECT_TRUE(r.ok()) << r.error().message();
}

TEST(ClientAssertion, EcKeyIsRefusedByName) {
  Key ec(EVP_EC_gen("P-256"));
  Cert cert = self_signed(ec.get());
  auto r = CertificateKey::load_pkcs12(pkcs12(ec.get(), cert.get(), "pw"), "pw");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, std::errc::not_supported);
  EXPECT_NE(r.error().context.find("key is EC, not RSA"), std::string::npos) << r.error().context;
}

TEST(ClientAssertion, ShortRsaKeyIsRefused) {
  Key small(EVP_RSA_gen(1024));
  Cert cert = self_signed(small.get());
  auto r = CertificateKey::load_pkcs12(pkcs12(small.get(), cert.get(), "pw"), "pw");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().context.find("1024 bits"), std::string::npos) << r.error().context;
}

TEST(ClientAssertion, NotPkcs12IsRefusedWithAHintForDoubleBase64) {
  auto garbage = CertificateKey::load_pkcs12("-----BEGIN CERTIFICATE-----", "");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code, std::errc::invalid_argument);
  EXPECT_NE(garbage.error().context.find("not a PKCS#12"), std::string::npos);
  auto twice = CertificateKey::load_pkcs12(encoding::base64_encode(fixture().p12), RsaIdentity::kPassword);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().context.find("base64-encoded"), std::string::npos) << twice.error().context;
  EXPECT_FALSE(CertificateKey::load_pkcs12("", "").ok());
}

TEST(ClientAssertion, KeyOnlyPkcs12IsRefused) {
  const auto& f = fixture();
  auto r = CertificateKey::load_pkcs12(pkcs12(f.key.get(), nullptr, "pw"), "pw");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().context.find("no certificate"), std::string::npos) << r.error().context;
}

// openssl pkcs12 -export -legacy: certificates under RC2-40, the key under 3DES, as older Windows tools export.
// Default OpenSSL 3 cannot read RC2; this test runs in its own process (one ctest per TEST), so the legacy
// provider is not loaded unless the code under test loads it.
const char* const kLegacyP12 =
    "MIIJYQIBAzCCCScGCSqGSIb3DQEHAaCCCRgEggkUMIIJEDCCA8cGCSqGSIb3DQEHBqCCA7gwggO0AgEAMIIDrQYJKoZIhvcNAQcB"
    "MBwGCiqGSIb3DQEMAQYwDgQIbOeKSqOkU0wCAggAgIIDgMzNRIoUt0SjVTx9d+qI0c4+W0ABUsCfYFBmNpsXAbpi8On+7+A33rEJ"
    "3E4ugGsfr33CgysfVi0BhOjgTMfxmXprOhMVQVwlAAYOVSF/NdYuDPWCGJryIK1hBSDXqKBqZCCViXQrN7pWIfIEgiQ/YaoXy85C"
    "wUEHhitPq7s8beVrEBXIrha9ajJc6tTxmBQQycB/3+JcBxxPDzGpOjzGUHp5fJrFBMf53E5bwM3ImgAP3+d6F8WeeHjCYFbIvdTI"
    "llNkDwduexh/mja+RSIyAt0Dy8ly+6/C2DM+4AZK0ZTfJzACR+8xVJcZC7/KDRkzBRFDxQhhDeOoPcqvEMy+RTjLFlBqNSADa3aZ"
    "SyfqUnUoqkXhZ+1CxooDw9gn75OEYQmpCwP4SFhzpWB+Ry71iSJgCrR11QYj8k6Al76ooojCdOczdlITWhr68e83xFANFxj7TYQl"
    "c2AfQ+SEtksj+QReaqs9xyD1syO161OWFeTzrnoDT4y9Wxmg8kpwr571vUHmaCkd8bolW9YzOK4j+dlTp4yky3lSQdkMUaPrhfsA"
    "EW8qXSXvR4yj9HFmegn+R3ukNN7KnwK2UAnU4BOItFAYPAQsD2ryhtKSC4aocW8lO7VPEyHydlY1MvZWexzE6/QaXYvfbVDR/jlN"
    "tA17wvUSiDJ/uHAS8Jr0wFiGYSAELtlLBpoglOoG8VMhdcHnWauecaqmC6z5PFOyIHCYdbYxx1K7YzJGM50G4crmOhpEO7pBDtE6"
    "jKgFWmE5JZOSmxrl11o/RxDlpfy8+DM+Ul0WC+whEaV3bI17KedEB1+iKOAxrEajzHNROLgf9Ne6mVKQ8v2W6KgLJbbR83Cx6ikB"
    "LNCnNf/aKVDiydIEu/gZMhr/AVhnX9ormasGUILrZ1YMoHc5s8mRelXReJUI/O1qxEbrMWco0M14rcz6/cl+axg/J/rdPtoiP5qM"
    "zAyxMc2J6X95ZBrkR+EQGWPAny1UbovwLRA/zaGl4hiXmni5HGZ1oJGS1r9y6NqfsbUtEYcfmWkcr0jwzuMXkjh5ZDayK8grS/T7"
    "4NrIREFLfxVRR3a4tp5dfFFx0/pdZyAEKXugvubuPefpPTP8jejWxFsPFhYc+XZOYIrh5cUGYRydPaw+JBbxS17C4YYy0BLj6tJk"
    "kiJT8vpJNrC2Z5/ESFdj4Xfsw4q4MKlCfEj32bFsMIIFQQYJKoZIhvcNAQcBoIIFMgSCBS4wggUqMIIFJgYLKoZIhvcNAQwKAQKg"
    "ggTuMIIE6jAcBgoqhkiG9w0BDAEDMA4ECKH96ZzYcmwMAgIIAASCBMjlmj5C10Xa+SHpjqjP7aXqFHc/JT/yHOeyYpJs7kWa6EVj"
    "NPrn5KQheCUU5g2TlJXyYwEupyF+jLr5ljE70I8fhvJ31z9Y4oStk8PYrK0eL9a6SND6G2QepJ3VgQYMyS5ylaO211HhkNiKcFmM"
    "mWh/RzN8ToRvJosaJwcS1XM/LI4vgewFOpKys1MG3SPxEv/sSsqOS8PhVSwWizlelLmh445FxYeS+OSwGuyQX76oCpAgrcphFgRW"
    "IM2V0nuhtGGb+mqLqfXExJhwss5OKMLJgGyUSxqeowSXYWX8nV3JkgSowv5kl/Df9SrWLHF1X3ScSjKWa2n2ufQ4b/HEGO+Y25h5"
    "Bz7aXdJu1i/na/CdIgMVCifhywQqbZ4i6Lwz8J9RayjxzG2ldKFGAtD+gD7G/Rf0Q9+4yG9O8tVbNUP2xT55zU7zhZkilNht/JR1"
    "IQgnv51CYrIVxQ7DbfoI+RTA8jJ3a5xUOOJiZy3+51dSzyp50vhbHqsg788gfovPcO2dus+vtDWn4NJf7cRjWsb78kBSB0NimY8y"
    "69y6Tpd7WcaDMuAaUB5bYmgSuD5WAZNSz6x5wbR+i1GZc5j+Gm/GiWuudO3CBLwFhAKTX1kuV8Lv8wyY0ru5UZy6pMrB88sCf6d9"
    "6raAnMdnN0Vodbv/fIACujqgXoH0iwkWjdqejLACFCa+Ei67+AG0oxcHhoa+SCIkmD29TgA788YjxUIvt/zOffnzLiktcuv07UOb"
    "m8tI9SAzX27d6XImYse3iAja92X/5atswMmHA+nd6bTBAHD1RwOkYf4VXHvx36FqcwTMTKtXj+F8uOQJB+WC0qsRyu5RNuX3wkqE"
    "w3bEAe5N55Tt5Gatj6RftTSRc9vOoomUk02jSCIC0/ijHZ3SqjfbNdLciLaYh0PBHuyCsCZTpi0yR6rFVNK+0Wn7IvRpzVxgkvGx"
    "o7/INnVm3W+wjkFZajWm/Jcgvlmf3/uGB0tbCqYtoDICob0PED8WGv08LEId9VvY9iQQxUngBhN/fiSioL+9k44gJBMlI8ZDTVR2"
    "JsFKJBHCSpJOEb8WPW6TPmM3rF04tib+4MgOMBRlLuHzCIKE87lolx1J4+LmhGMJcR4TkON5Rq9kkXFLaLkGZr9X5SzmEw09AwWT"
    "m2a5Y1OEkxak0FexAveqAU1uWA8R8ff3SNt24mUeYUzRkMCcXyIW9S9ako/xe/nIEaTIz12HknEr46pluwv9uJTxyvZp7BrJK73i"
    "UQIT98USVlGhDQov9jjQ9ntDapehR9MOBEok9qZn1zYNUdDG0Tw15xdFDWv0ftnDy2iCNgnGUsoicU67IGZt8tvAW2avhLfAsrdD"
    "Sd9paUFYcTqKbai3kJnkaqUv/S4f6zD6WItNb6umZtLzAO3aDY26AbePe4knkvuDWR15gCHbrcHMuxsZ8rAkRaLxgqNvn9M4yJxA"
    "fgp1TbVCf1lz1PfSCP7DAc0u207y9YoBqC2p8JIL4SoRrB7JgmHuDts57/gzSVQIpRvt8ZqqhxHiyjqCgb/jHfigz6OcxeSa5qUh"
    "B/n2ZhSw0OtV4SJehtsdAjxsFjB6zszq2n5GIwJKcmptrbJ81N28oQLrHE7Gx2Vl4M/PL/B4HZnybU1vnmzDWy4xJTAjBgkqhkiG"
    "9w0BCRUxFgQUzvyAD5Id19LTt/Etp12s68UIN8owMTAhMAkGBSsOAwIaBQAEFCbXty4WN/9XpoMrjXVG+uTBtL7FBAg9Nax5L6BD"
    "oAICCAA=";

TEST(ClientAssertion, LegacyEncryptedPkcs12Loads) {
  auto der = encoding::base64_decode(kLegacyP12);
  ASSERT_TRUE(der.has_value());
  auto key = CertificateKey::load_pkcs12(*der, "legacy-pw");
  ASSERT_TRUE(key.ok()) << key.error().message();
  auto jwt = make_client_assertion(*key, {kClientId, kAudience, kNow, random_uuid()});
  EXPECT_TRUE(jwt.ok());
}

TEST(ClientAssertion, RandomUuidIsVersion4) {
  std::regex v4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::string a = random_uuid();
  EXPECT_TRUE(std::regex_match(a, v4)) << a;
  EXPECT_NE(a, random_uuid());
}

}  // namespace
}  // namespace podid::azure
