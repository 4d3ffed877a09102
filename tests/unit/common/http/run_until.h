// SPDX-License-Identifier: Apache-2.0
//
// Drives a test's io_context on the test thread until a coroutine finishes or a condition holds.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>

namespace podid::testing {

// Runs io until pred() is true; false if `limit` passed first.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& pred,
                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Runs io until `task` completes, and returns its value. Throws (failing the test) if it takes over `limit`.
template <class T>
T run_task(boost::asio::io_context& io, boost::asio::awaitable<T> task,
           std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  struct Outcome {
    std::optional<T> value;
    std::exception_ptr error;
    bool done = false;
  };
  // Shared with the coroutine: after a timeout it may still run later in the same test.
  auto outcome = std::make_shared<Outcome>();
  // Through a void coroutine: co_spawn's value form needs a default-constructible T, and Result<T> is not one.
  boost::asio::co_spawn(
      io,
      [outcome, t = std::move(task)]() mutable -> boost::asio::awaitable<void> {
        outcome->value.emplace(co_await std::move(t));
      },
      [outcome](std::exception_ptr e) {
        outcome->error = e;
        outcome->done = true;
      });
  if (!run_until(
          io, [&] { return outcome->done; }, limit))
    throw std::runtime_error("run_task: timed out");
  if (outcome->error) std::rethrow_exception(outcome->error);
  return std::move(*outcome->value);
}

}  // namespace podid::testing
