// SPDX-License-Identifier: Apache-2.0
//
// co_spawn for work nobody waits for (a background refresh, a taint removal, an Event): instead of
// asio::detached, which drops whatever the coroutine threw without a trace, the completion handler logs it as
// one error line naming the task. The task's own failures are its business (it logs and counts them); this is
// the net for the ones it did not expect.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <exception>
#include <string>
#include <utility>

#include "podid/log.h"

namespace podid {

// What an escaped exception says, for a log line.
inline std::string describe_exception(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

inline void spawn_logged(const boost::asio::any_io_executor& executor, boost::asio::awaitable<void> task,
                         std::string name) {
  boost::asio::co_spawn(executor, std::move(task), [name = std::move(name)](std::exception_ptr e) {
    if (e) log::error("background task failed", {{"task", name}, {"error", describe_exception(e)}});
  });
}

}  // namespace podid
