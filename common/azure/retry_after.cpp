// SPDX-License-Identifier: Apache-2.0
#include "podid/azure/retry_after.h"

#include <array>
#include <vector>

namespace podid::azure {
namespace {

using std::chrono::seconds;
constexpr seconds kMaxDelay{24 * 3600};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A run of 1..max_digits decimal digits and nothing else.
std::optional<int> parse_digits(std::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::optional<unsigned> parse_month(std::string_view s) {
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (unsigned i = 0; i < kMonths.size(); ++i) {
    if (s == kMonths[i]) return i + 1;
  }
  return std::nullopt;
}

bool is_weekday(std::string_view s) {
  if (s.size() < 3) return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    size_t start = s.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    s.remove_prefix(start);
    size_t end = s.find(' ');
    out.push_back(s.substr(0, end));
    if (end == std::string_view::npos) break;
    s.remove_prefix(end);
  }
  return out;
}

std::optional<std::chrono::system_clock::time_point> make_time(int year, unsigned month, int day,
                                                               std::string_view hms) {
  if (hms.size() != 8 || hms[2] != ':' || hms[5] != ':') return std::nullopt;
  auto h = parse_digits(hms.substr(0, 2), 2), m = parse_digits(hms.substr(3, 2), 2),
       s = parse_digits(hms.substr(6, 2), 2);
  if (!h || !m || !s || *h > 23 || *m > 59 || *s > 60) return std::nullopt;
  std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{month},
                                  std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  std::chrono::sys_seconds t =
      std::chrono::sys_days{ymd} + std::chrono::hours{*h} + std::chrono::minutes{*m} + seconds{*s};
  // system_clock counts nanoseconds in 64 bits (1677-09-21 to 2262-04-11): a date outside cannot be held, and
  // converting it would overflow. No upstream means one; it is ignored like any unreadable hint.
  constexpr auto kEarliest = std::chrono::ceil<seconds>(std::chrono::system_clock::time_point::min());
  constexpr auto kLatest = std::chrono::floor<seconds>(std::chrono::system_clock::time_point::max());
  if (t < kEarliest || t > kLatest) return std::nullopt;
  return t;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text) {
  auto t = split_spaces(trim(text));
  if (t.size() == 6 && t[0].size() == 4 && t[0].back() == ',' && is_weekday(t[0].substr(0, 3)) && t[5] == "GMT") {
    auto day = parse_digits(t[1], 2);
    auto month = parse_month(t[2]);
    auto year = t[3].size() == 4 ? parse_digits(t[3], 4) : std::nullopt;
    if (!day || !month || !year) return std::nullopt;
    return make_time(*year, *month, *day, t[4]);
  }
  if (t.size() == 4 && t[0].back() == ',' && is_weekday(t[0].substr(0, t[0].size() - 1)) && t[3] == "GMT") {
    // RFC 850: dd-Mon-yy. RFC 9110 reads a two-digit year more than 50 years ahead as the past century.
    std::string_view d = t[1];
    if (d.size() != 9 || d[2] != '-' || d[6] != '-') return std::nullopt;
    auto day = parse_digits(d.substr(0, 2), 2);
    auto month = parse_month(d.substr(3, 3));
    auto yy = parse_digits(d.substr(7, 2), 2);
    if (!day || !month || !yy) return std::nullopt;
    return make_time(*yy < 70 ? 2000 + *yy : 1900 + *yy, *month, *day, t[2]);
  }
  if (t.size() == 5 && t[0].size() == 3 && is_weekday(t[0])) {
    auto month = parse_month(t[1]);
    auto day = parse_digits(t[2], 2);
    auto year = t[4].size() == 4 ? parse_digits(t[4], 4) : std::nullopt;
    if (!day || !month || !year) return std::nullopt;
    return make_time(*year, *month, *day, t[3]);
  }
  return std::nullopt;
}

std::optional<seconds> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    // More than 9 digits is past the cap anyway; parse_digits would refuse it.
    if (value.size() > 9) return kMaxDelay;
    return std::min(seconds{*parse_digits(value, 9)}, kMaxDelay);
  }
  auto when = parse_http_date(value);
  if (!when) return std::nullopt;
  if (*when <= now) return seconds{0};
  // Round up: a caller told "retry in 0 s" a fraction of a second early would be refused again.
  auto left = std::chrono::ceil<seconds>(*when - now);
  return std::min(left, kMaxDelay);
}

}  // namespace podid::azure
