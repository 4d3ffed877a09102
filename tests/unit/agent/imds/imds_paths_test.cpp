// SPDX-License-Identifier: Apache-2.0
// Path classification: the exact token path, everything that could be read as it, and everything else.
#include "agent/imds/imds_paths.h"

#include <gtest/gtest.h>

#include <cctype>
#include <random>
#include <string>
#include <vector>

namespace podid::agent::imds {
namespace {

struct PathCase {
  std::string target;
  PathKind kind;
};

void PrintTo(const PathCase& c, std::ostream* os) { *os << c.target; }

class ClassifyPath : public ::testing::TestWithParam<PathCase> {};

TEST_P(ClassifyPath, Classifies) { EXPECT_EQ(classify_path(GetParam().target), GetParam().kind) << GetParam().target; }

INSTANTIATE_TEST_SUITE_P(
    Token, ClassifyPath,
    ::testing::Values(PathCase{"/metadata/identity/oauth2/token", PathKind::kToken},
                      PathCase{"/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x", PathKind::kToken},
                      // @azure/identity with AZURE_POD_IDENTITY_AUTHORITY_HOST (msal-node canonicalises to `/`)
                      PathCase{"/metadata/identity/oauth2/token/", PathKind::kToken},
                      PathCase{"/metadata/identity/oauth2/token/?api-version=2018-02-01", PathKind::kToken},
                      PathCase{"/METADATA/identity/oauth2/token", PathKind::kToken},
                      PathCase{"/MetaData/identity/oauth2/token?", PathKind::kToken},
                      // the query is not the path: a `?` inside it changes nothing
                      PathCase{"/metadata/identity/oauth2/token?x=/../a?b", PathKind::kToken}));

// Every way a lenient server might still read the token path: never relayed, answered 400.
INSTANTIATE_TEST_SUITE_P(
    Malformed, ClassifyPath,
    ::testing::Values(
        PathCase{"/metadata/identity//oauth2/token", PathKind::kMalformedToken},
        PathCase{"//metadata/identity/oauth2/token", PathKind::kMalformedToken},
        PathCase{"/metadata//identity/oauth2/token", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/oauth2/token//", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/oauth2/token/extra", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/oauth2/token/.", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/oauth2/token.", PathKind::kMalformedToken},
        PathCase{"/metadata/Identity/oauth2/token", PathKind::kMalformedToken},
        PathCase{"/metadata/IDENTITY/OAUTH2/TOKEN", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/OAuth2/Token", PathKind::kMalformedToken},
        PathCase{"/metadata/./identity/oauth2/token", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/./oauth2/token", PathKind::kMalformedToken},
        PathCase{"/metadata/instance/../identity/oauth2/token", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/info/../oauth2/token", PathKind::kMalformedToken},
        PathCase{"/metadata/instance/%2e%2e/identity/oauth2/token", PathKind::kMalformedToken},
        PathCase{"/metadata/identity%2Foauth2%2Ftoken", PathKind::kMalformedToken},
        PathCase{"/metadata/identity%2foauth2%2ftoken", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/oauth2/%74oken", PathKind::kMalformedToken},
        PathCase{"/%6detadata/identity/oauth2/token", PathKind::kMalformedToken},
        PathCase{"/metadata/%69%64%65%6e%74%69%74%79/oauth2/token", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/oauth2/%2574oken", PathKind::kMalformedToken},         // double encoding
        PathCase{"/metadata/identity/oauth2/%252574oken", PathKind::kMalformedToken},       // triple
        PathCase{"/metadata/identity/oauth2/%u0074oken", PathKind::kMalformedToken},        // IIS %u
        PathCase{"/metadata/identity/oauth2/%EF%BD%94oken", PathKind::kMalformedToken},     // full-width t, encoded
        PathCase{"/metadata/identity/oauth2/\xEF\xBD\x94oken", PathKind::kMalformedToken},  // full-width t, raw
        PathCase{"/metadata/identity/oauth2/to\xE2\x84\xAA"
                 "en",
                 PathKind::kMalformedToken},  // Kelvin sign
        PathCase{"/metadata/\xC4\xB1"
                 "dentity/oauth2/token",
                 PathKind::kMalformedToken},  // dotless i
        PathCase{"/metadata\\identity\\oauth2\\token", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/oauth2\\token", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/oauth2/%5Ctoken", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/oauth2/token;x=1", PathKind::kMalformedToken},
        PathCase{"/metadata;a/identity;b/oauth2/token", PathKind::kMalformedToken},
        PathCase{"/metadata/instance/..;/identity/oauth2/token", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/oauth2/token#frag", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/oauth2/token%3Fapi-version=2018-02-01", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/oauth2/token%00", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/oauth2/token%20", PathKind::kMalformedToken},
        PathCase{"http://169.254.169.254/metadata/identity/oauth2/token", PathKind::kMalformedToken},
        PathCase{"/other/identity/oauth2/token", PathKind::kMalformedToken},
        PathCase{"/metadata/identity/oauth2/token/%2e%2e/token", PathKind::kMalformedToken}));

INSTANTIATE_TEST_SUITE_P(
    Other, ClassifyPath,
    ::testing::Values(PathCase{"/", PathKind::kOther}, PathCase{"", PathKind::kOther}, PathCase{"*", PathKind::kOther},
                      PathCase{"/metadata/instance?api-version=2021-02-01", PathKind::kOther},
                      PathCase{"/metadata/instance/compute/name?api-version=2021-02-01&format=text", PathKind::kOther},
                      PathCase{"/metadata/identity/info?api-version=2018-02-01", PathKind::kOther},
                      PathCase{"/metadata/identity/oauth2", PathKind::kIdentityNotServed},
                      PathCase{"/metadata/versions", PathKind::kOther},
                      PathCase{"/metadata/scheduledevents?api-version=2020-07-01", PathKind::kOther},
                      PathCase{"/podid/v1/whoami", PathKind::kOther},
                      // IMDS routes on the path; a query that spells the token path is just a query
                      PathCase{"/metadata/instance?x=/metadata/identity/oauth2/token", PathKind::kOther}));

TEST(IsInstanceMetadata, BroadOnPurpose) {
  for (std::string t :
       {"/metadata/instance", "/metadata/instance?api-version=2021-02-01", "/Metadata/instance/compute",
        "/METADATA/INSTANCE", "/metadata/%69nstance", "/metadata/./instance", "/metadata/x/../instance",
        "//metadata//instance/network", "/metadata\\instance", "/metadata;x/instance", "/metadata/instancefoo"}) {
    EXPECT_TRUE(is_instance_metadata(t)) << t;
  }
  for (std::string t : {"/metadata/versions", "/metadata/identity/info", "/metadata/attested/document", "/",
                        "/metadata/instance/../versions", "/instance"}) {
    EXPECT_FALSE(is_instance_metadata(t)) << t;
  }
}

TEST(NormalizePath, ResolvesWhatALenientServerWould) {
  EXPECT_EQ(normalize_path("/metadata/instance?x=1"), "/metadata/instance");
  EXPECT_EQ(normalize_path("/Metadata/Instance/"), "/metadata/instance/");
  EXPECT_EQ(normalize_path("/a/b/../c"), "/a/c");
  EXPECT_EQ(normalize_path("/a/./b/."), "/a/b/");
  EXPECT_EQ(normalize_path("/a/.."), "/");
  EXPECT_EQ(normalize_path("/../../a"), "/a");
  EXPECT_EQ(normalize_path("//a///b"), "/a/b");
  EXPECT_EQ(normalize_path("/a%2fb/%252e%252e/c"), "/a/c");  // double-encoded ..
  EXPECT_EQ(normalize_path("/a\\b"), "/a/b");
  EXPECT_EQ(normalize_path("/a;x=1/..;/b;y"), "/b");
  EXPECT_EQ(normalize_path(""), "/");
  EXPECT_EQ(normalize_path("/%zz%4"), "/%zz%4");  // not escapes: kept as written
}

TEST(PathOf, DropsTheQuery) {
  EXPECT_EQ(path_of("/a?b?c"), "/a");
  EXPECT_EQ(path_of("/a"), "/a");
  EXPECT_EQ(path_of("?x"), "");
}

// Property: any meaning-preserving disguise of the token path is classified as the token path or malformed.
// The disguises are the ones a lenient server undoes: escapes (single, double, %u), case, `\`, `;params`,
// `.` segments, `x/..` detours and doubled slashes.
TEST(ClassifyPath, DisguisedTokenPathsNeverLookLikeOtherPaths) {
  std::mt19937 rng(20240601);
  const std::string base = "/metadata/identity/oauth2/token";
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto hex = [](unsigned char c) {
    static const char* digits = "0123456789ABCDEF";
    return std::string{'%', digits[c >> 4], digits[c & 0xF]};
  };
  for (int round = 0; round < 20000; ++round) {
    std::string out;
    for (char c : base) {
      std::string piece(1, c);
      switch (pick(12)) {
        case 0:
          piece = hex(static_cast<unsigned char>(c));
          break;
        case 1:
          piece = "%25" + hex(static_cast<unsigned char>(c)).substr(1);
          break;
        case 2:
          piece = "%u00" + hex(static_cast<unsigned char>(c)).substr(1);
          break;
        case 3:
          piece = std::string(1, static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
          break;
        case 4:
          if (c == '/') piece = "\\";
          break;
        case 5:
          if (c == '/') piece = "/./";
          break;
        case 6:
          if (c == '/') piece = "/x/../";
          break;
        case 7:
          if (c == '/') piece = "//";
          break;
        case 8:
          if (c == '/') piece = ";p=1/";
          break;
        default:
          break;
      }
      out += piece;
    }
    PathKind kind = classify_path(out);
    ASSERT_NE(kind, PathKind::kOther) << out;
    if (kind == PathKind::kToken) {
      // Only case changes of `metadata` keep the exact form.
      ASSERT_EQ(normalize_path(out), base) << out;
    }
  }
}

TEST(ClassifyPath, TheIdentityCategoryIsOwnedByTheAgent) {
  // MSI v2 and anything else under /metadata/identity but the token path and /info: never relayed.
  for (const char* t : {"/metadata/identity/getPlatformMetadata?api-version=2025-05-01",
                        "/metadata/identity/issuecredential?cid=c&uaid=u&api-version=2025-05-01",
                        "/METADATA/Identity/IssueCredential", "/metadata/%69dentity/issuecredential",
                        "/metadata/instance/../identity/issuecredential", "/metadata/identity",
                        "/metadata/identity/", "/metadata/identity/info/", "/metadata/identity/oauth2/authorize"}) {
    EXPECT_EQ(classify_path(t), PathKind::kIdentityNotServed) << t;
  }
  EXPECT_TRUE(is_msi_v2_path("/metadata/identity/getPlatformMetadata"));
  EXPECT_TRUE(is_msi_v2_path("/metadata/identity/issuecredential?cid=1"));
  EXPECT_FALSE(is_msi_v2_path("/metadata/identity/oauth2/authorize"));
  // What may still be relayed (under the passthrough policy).
  for (const char* t : {"/metadata/identity/info?api-version=2018-02-01", "/metadata/identityx", "/metadata/instance",
                        "/metadata/versions"}) {
    EXPECT_EQ(classify_path(t), PathKind::kOther) << t;
  }
}

}  // namespace
}  // namespace podid::agent::imds
