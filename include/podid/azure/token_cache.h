// SPDX-License-Identifier: Apache-2.0
//
// The cache in front of every token source, in both binaries: the agent's pods ask often (SDKs cache per process,
// and processes restart) and upstreams are rate limited (IMDS: 20 identity requests/s per VM), so each
// (credential, resource) is fetched once and shared; the controller's ARM credential is a cache of one key.
//
//   fresh         served from memory, no upstream call.
//   refresh due   past issued_at + refresh_fraction x lifetime ("half life", as msal and MSAL Go refresh), or
//                 refresh_margin before expiry when that is later, but with more than min_remaining left:
//                 served from memory AND one background refresh starts (refresh_in_background, the agent's
//                 way); or, without refresh_in_background, fetched by the caller as for a missing token (the
//                 controller's ARM credential). A failed refresh keeps the old token (counted, logged) and is
//                 retried no sooner than refresh_retry_delay (or the upstream's Retry-After), so a failing
//                 upstream is not hammered.
//   missing or    one upstream call, however many callers ask meanwhile (single flight): they all wait for it
//   nearly expired and all get its outcome. If it fails while the cached token still has kStaleGrace left, they
//                 get that token instead (and so does everyone while the failure is remembered): a pod is
//                 better served by a valid token than by an outage.
//   throttled     a failure carrying Retry-After (429, 503...) is remembered until then (capped at
//                 max_retry_after); callers meanwhile get the same failure with the time left, and no upstream
//                 call is made. Other failures are remembered only for negative_ttl (default 0: not at all).
//   bounded       at most max_entries; the least recently used entry goes first.
//
// Threading: every call, and every coroutine awaiting get(), runs on the executor given to the constructor,
// one thread at a time (the agent's single io_context thread, or a strand): no mutex. The upstream call runs
// in its own coroutine, not in any caller's, so a caller that gives up (its coroutine cancelled or destroyed
// while waiting) takes nothing from the others; the cache may even be destroyed with fetches in flight, which
// then finish for their waiters and store nothing.
//
// Errors: get() never throws and never fails by itself: a failure is the UpstreamFailure of the source (or, for
// a caller whose wait was cancelled, status 0 with detail "cancelled").
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "podid/azure/access_token.h"
#include "podid/azure/token_source.h"
#include "podid/clock.h"

namespace podid::azure {

// A failed fetch serves the cached token instead only if it still has this long to live: less would reach the
// pod already expired, or nearly so, after its own round trip.
inline constexpr std::chrono::seconds kStaleGrace{60};

struct TokenCacheOptions {
  double refresh_fraction = 0.5;                 // of the lifetime, from issued_at: when refresh-ahead starts
  std::chrono::seconds refresh_margin{0};        // > 0: a refresh is due no earlier than this before expiry
  bool refresh_in_background = true;             // false: the caller that finds a refresh due fetches and waits
  std::chrono::seconds min_remaining{300};       // a token with less left is not served (SDKs refresh at 5 min)
  std::chrono::seconds negative_ttl{0};          // how long a failure without Retry-After is remembered
  std::chrono::seconds max_retry_after{300};     // an upstream's Retry-After is honoured up to this long
  std::chrono::seconds refresh_retry_delay{30};  // after a failed background refresh, wait this long to retry
  std::size_t max_entries = 4096;
};

// Counters since construction (entries and in_flight are the current values).
struct TokenCacheStats {
  uint64_t hits = 0;              // answered from memory with a usable token
  uint64_t misses = 0;            // upstream fetches started for callers who had no usable token
  uint64_t refreshes = 0;         // background refreshes started
  uint64_t refresh_failures = 0;  // background refreshes that failed (the old token stayed)
  uint64_t coalesced = 0;         // callers that joined a fetch already in flight
  uint64_t evictions = 0;         // entries dropped to stay within max_entries
  uint64_t throttled = 0;         // answered with a remembered Retry-After failure, no upstream call
  uint64_t negative_hits = 0;     // answered with a failure remembered for negative_ttl
  uint64_t stale_served = 0;      // callers given the cached, nearly expired token because the fetch failed
  uint64_t cancelled = 0;         // callers that stopped waiting before the fetch finished
  std::size_t entries = 0;
  std::size_t in_flight = 0;
};

struct Served {
  TokenOutcome outcome;
  bool from_cache = false;  // no upstream call was made for this caller, or waited for
};

class TokenCache {
 public:
  // Throws std::invalid_argument on options out of range (start-up configuration). `clock` must outlive the
  // cache and any fetch it started.
  TokenCache(boost::asio::any_io_executor executor, const WallClock& clock, TokenCacheOptions options = {});
  ~TokenCache();
  TokenCache(const TokenCache&) = delete;
  TokenCache& operator=(const TokenCache&) = delete;

  // A token for `resource` from `source`, by the rules above. `resource` and `context` need to live only until
  // the first suspension (they are copied for the fetch), which `co_await cache.get(...)` guarantees.
  boost::asio::awaitable<Served> get(std::shared_ptr<TokenSource> source, const std::string& resource,
                                     const FetchContext& context);

  // Drops every resource of one credential (its identity or binding changed). Fetches in flight finish for
  // their waiters but are not stored.
  void invalidate(std::string_view source_cache_key);
  void clear();

  TokenCacheStats stats() const;
  // Counts changes to the tokens held (one stored, refreshed, evicted, invalidated; all cleared): an answer made
  // from a cached token still holds while this is unchanged (the agent's replayed answers, agent/serve/token_replay.h).
  uint64_t generation() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace podid::azure
