// SPDX-License-Identifier: Apache-2.0
//
// Retry-After as IMDS, Entra ID and ARM send it with 429 and 503 (include/podid/azure/retry_after.h): delay-seconds or
// one of the three HTTP-date forms. Input: the header's value.
//
// Properties: a delay is between 0 and one day; a date that parses is a valid calendar date and time, and
// written back as an IMF-fixdate it parses to the same instant.
#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "podid/azure/retry_after.h"

namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

const system_clock::time_point kNow = system_clock::time_point{seconds{1'735'689'600}};  // 2025-01-01

std::string imf_fixdate(system_clock::time_point t) {
  std::time_t tt = system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char out[64];
  std::strftime(out, sizeof out, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view value(reinterpret_cast<const char*>(data), size);
  if (auto delay = podid::azure::parse_retry_after(value, kNow)) {
    FUZZ_CHECK(*delay >= seconds{0} && *delay <= seconds{86400}, "a Retry-After outside 0..1 day");
  }
  if (auto when = podid::azure::parse_http_date(value)) {
    auto day = std::chrono::floor<std::chrono::days>(*when);
    std::chrono::year_month_day ymd{day};
    FUZZ_CHECK(ymd.ok() && ymd.year() >= std::chrono::year{0} && ymd.year() <= std::chrono::year{9999},
               "a date outside the calendar");
    if (ymd.year() >= std::chrono::year{1900}) {
      auto again = podid::azure::parse_http_date(imf_fixdate(*when));
      // A leap second (:60) is accepted and lands on the next second's instant.
      FUZZ_CHECK(again && *again == std::chrono::floor<seconds>(*when), "a date does not survive writing it back");
    }
  }
  return 0;
}
