// SPDX-License-Identifier: Apache-2.0
#include "podid/encoding/base64.h"

#include <gtest/gtest.h>

using namespace podid::encoding;

TEST(Base64, Rfc4648VectorsRoundTrip) {
  const std::pair<const char*, const char*> kVectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : kVectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    EXPECT_EQ(base64_decode(encoded), std::string(plain));
  }
}

TEST(Base64, UrlAlphabetWithoutPadding) {
  std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(base64_encode(bytes), "+/+/");
  EXPECT_EQ(base64url_encode(bytes), "-_-_");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_decode("Zg"), std::string("f"));
  EXPECT_EQ(base64url_decode("Zg=="), std::string("f"));
  EXPECT_EQ(base64url_decode("-_-_"), bytes);
}

TEST(Base64, MalformedInputIsRefusedNotPartlyDecoded) {
  for (const char* bad : {"Zg=", "Zm9v\n", "Zm9*", "Z===", "-_-_", "Zh==" /* non-zero trailing bits */}) {
    EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(base64url_decode("+/+/"), std::nullopt);
  EXPECT_EQ(base64url_decode("Z"), std::nullopt);
}
