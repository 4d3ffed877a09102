// SPDX-License-Identifier: Apache-2.0
//
// podid's error category: the domain errors of every layer that is not itself talking to the kernel. An Error
// (result.h) carries one of these codes plus a context that says what was being done; a caller branches on the
// code and prints the context.
//
// Each code is also equivalent to the std::errc condition a caller would naturally test, so
// `error.code == std::errc::invalid_argument` holds for Errc::kInvalidArgument. The kernel's own errors stay
// in std::system_category (os_error() in result.h).
//
//   kInvalidArgument  configuration or an argument its owner can fix: a bad URL, tenant, flag     ~ EINVAL
//   kMalformed        bytes from outside that do not parse as what they claim to be            ~ EBADMSG
//   kRefused          the other side answered and said no (an upstream's 4xx, a wrong password) ~ EACCES
//   kUnavailable      the other side gave no usable answer (down, timed out, 5xx)              ~ EIO
//   kNotSupported     well formed, but a kind podid does not handle                            ~ ENOTSUP
#pragma once

#include <string>
#include <system_error>

#include "podid/result.h"

namespace podid {

enum class Errc {
  kInvalidArgument = 1,
  kMalformed,
  kRefused,
  kUnavailable,
  kNotSupported,
};

class ErrcCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "podid"; }

  std::string message(int code) const override {
    switch (static_cast<Errc>(code)) {
      case Errc::kInvalidArgument: return "invalid argument";
      case Errc::kMalformed: return "malformed";
      case Errc::kRefused: return "refused";
      case Errc::kUnavailable: return "unavailable";
      case Errc::kNotSupported: return "not supported";
    }
    return "unknown podid error";
  }

  std::error_condition default_error_condition(int code) const noexcept override {
    switch (static_cast<Errc>(code)) {
      case Errc::kInvalidArgument: return std::errc::invalid_argument;
      case Errc::kMalformed: return std::errc::bad_message;
      case Errc::kRefused: return std::errc::permission_denied;
      case Errc::kUnavailable: return std::errc::io_error;
      case Errc::kNotSupported: return std::errc::not_supported;
    }
    return {code, *this};
  }
};

inline const std::error_category& errc_category() {
  static const ErrcCategory category;
  return category;
}

inline std::error_code make_error_code(Errc e) { return {static_cast<int>(e), errc_category()}; }

// The Error of one of the codes above, with its context.
inline Error make_error(Errc code, std::string context) { return {make_error_code(code), std::move(context)}; }
inline Error invalid_argument(std::string context) { return make_error(Errc::kInvalidArgument, std::move(context)); }
inline Error malformed(std::string context) { return make_error(Errc::kMalformed, std::move(context)); }

}  // namespace podid

template <>
struct std::is_error_code_enum<podid::Errc> : std::true_type {};
