// SPDX-License-Identifier: Apache-2.0
//
// Retry-After (RFC 9110 §10.2.3) as IMDS and Entra ID send it with 429 and 503: delay-seconds or an HTTP-date.
// The cache remembers it and tells every caller the time left, so both forms become a delay from `now`.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace podid::azure {

// The delay a Retry-After value asks for, seen from `now`: seconds as given (capped at one day: no upstream
// means longer, and a huge value must not overflow), an HTTP-date in the past as 0. nullopt when the value is
// neither form: an unreadable hint is ignored rather than guessed.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

// The three HTTP-date forms a recipient must accept: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", the obsolete
// RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994".
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text);

}  // namespace podid::azure
