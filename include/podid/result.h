// SPDX-License-Identifier: Apache-2.0
//
// Result<T>: the error convention of every OS- and libbpf-facing layer in podid.
//
// A function that can fail because the kernel said no returns Result<T>: either a value or an Error holding
// the std::error_code (errno in std::system_category) plus a human context ("attach connect4 to
// /sys/fs/cgroup/kubepods.slice"). Callers test it, add context as it travels up, and decide; nothing in
// these layers throws. (C++20 has no std::expected; this is the small subset we need.)
#pragma once

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace podid {

struct Error {
  std::error_code code;
  std::string context;

  // "context: strerror" — what a log line or a start-up refusal prints.
  std::string message() const { return context.empty() ? code.message() : context + ": " + code.message(); }

  // The same error with an outer context prepended ("load imds_redirect: open pinned map cfg: ...").
  Error wrap(const std::string& outer) const { return {code, context.empty() ? outer : outer + ": " + context}; }
};

// An Error from an errno value (positive or negative, as libbpf returns them).
inline Error os_error(int err, std::string context) {
  return {std::error_code(err < 0 ? -err : err, std::system_category()), std::move(context)};
}

// An Error from the current errno.
inline Error last_os_error(std::string context) { return os_error(errno, std::move(context)); }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design, like std::expected
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace podid
