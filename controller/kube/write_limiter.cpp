// SPDX-License-Identifier: Apache-2.0
#include "controller/kube/write_limiter.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <prometheus/counter.h>

namespace podid::controller::kube {
namespace asio = boost::asio;

WriteLimiter::WriteLimiter(double qps, std::uint32_t burst, const SteadyClock& clock, prometheus::Registry& registry)
    : interval_(
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(1.0 / qps))),
      tolerance_(interval_ * (std::max<std::uint32_t>(burst, 1) - 1)),
      clock_(clock),
      waited_(prometheus::BuildCounter()
                  .Name("podid_controller_kube_write_wait_seconds_total")
                  .Help("Seconds the controller's Kubernetes writes waited for its client-side rate limit "
                        "(--kube-api-qps, --kube-api-burst)")
                  .Register(registry)
                  .Add({})) {}

WriteLimiter::TimePoint WriteLimiter::reserve(TimePoint now) {
  const TimePoint tat = std::max(tat_, now);
  const TimePoint go = std::max(now, tat - tolerance_);
  tat_ = tat + interval_;
  return go;
}

asio::awaitable<void> WriteLimiter::acquire() {
  const TimePoint now = clock_.now();
  const TimePoint go = reserve(now);
  if (go <= now) co_return;
  waited_.Increment(std::chrono::duration<double>(go - now).count());
  asio::steady_timer timer(co_await asio::this_coro::executor, go);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace podid::controller::kube
