// SPDX-License-Identifier: Apache-2.0
#include "podid/azure/token_cache.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <list>
#include <map>
#include <optional>
#include <stdexcept>

#include "podid/log.h"

namespace podid::azure {
namespace asio = boost::asio;
using std::chrono::seconds;
using std::chrono::system_clock;

namespace {

// One upstream call and everyone waiting for it. `done` never expires by itself: the fetch cancels it when the
// result is in, which wakes every waiter at once; a waiter cancelled on its own wakes alone.
struct Flight {
  explicit Flight(const asio::any_io_executor& ex) : done(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer done;
  std::optional<Served> result;
};

using Key = std::pair<std::string, std::string>;  // (source cache key, resource)

}  // namespace

struct TokenCache::State : std::enable_shared_from_this<State> {
  using Lru = std::list<const Key*>;  // front: most recently used; points at the map's own keys
  struct Entry {
    std::optional<AccessToken> token;
    std::optional<UpstreamFailure> failure;  // remembered until failure_until
    system_clock::time_point failure_until;
    bool throttled = false;  // the failure came with Retry-After
    system_clock::time_point next_refresh_at;
    std::shared_ptr<Flight> flight;
    Lru::iterator lru;
  };
  using Map = std::map<Key, Entry>;

  State(asio::any_io_executor ex, const WallClock& c, TokenCacheOptions o)
      : executor(std::move(ex)), clock(c), options(o) {}

  asio::any_io_executor executor;
  const WallClock& clock;
  TokenCacheOptions options;
  Map entries;
  Lru lru;
  TokenCacheStats stats;
  uint64_t generation = 0;  // changes to the tokens held: stored, erased, cleared
  bool closed = false;

  bool usable(const AccessToken& t, system_clock::time_point now) const {
    return t.expires_on - now > options.min_remaining;
  }

  system_clock::time_point refresh_at(const AccessToken& t) const {
    auto lifetime = std::chrono::duration<double>(t.expires_on - t.issued_at) * options.refresh_fraction;
    auto at = t.issued_at + std::chrono::duration_cast<system_clock::duration>(lifetime);
    if (options.refresh_margin > seconds{0}) at = std::max(at, t.expires_on - options.refresh_margin);
    return at;
  }

  static bool stale_servable(const Entry& e, system_clock::time_point now) {
    return e.token && e.token->expires_on - now >= kStaleGrace;
  }

  void touch(Map::iterator it) { lru.splice(lru.begin(), lru, it->second.lru); }

  Map::iterator insert(Key key) {
    while (!entries.empty() && entries.size() >= options.max_entries) {
      erase(entries.find(*lru.back()));
      ++stats.evictions;
    }
    auto it = entries.emplace(std::move(key), Entry{}).first;
    lru.push_front(&it->first);
    it->second.lru = lru.begin();
    return it;
  }

  void erase(Map::iterator it) {
    lru.erase(it->second.lru);
    entries.erase(it);
    ++generation;
  }

  std::shared_ptr<Flight> start(Map::iterator it, std::shared_ptr<TokenSource> source, const FetchContext& context,
                                bool refresh) {
    auto flight = std::make_shared<Flight>(executor);
    it->second.flight = flight;
    ++stats.in_flight;
    if (refresh) ++stats.refreshes;
    std::string what = source->describe();
    asio::co_spawn(executor, run(shared_from_this(), it->first, std::move(source), context, flight, refresh),
                   [what](std::exception_ptr e) {
                     // run() catches what the source throws; only the allocator can get here.
                     if (e) log::error("token fetch coroutine failed", {{"source", what}});
                   });
    return flight;
  }

  static asio::awaitable<void> run(std::shared_ptr<State> self, Key key, std::shared_ptr<TokenSource> source,
                                   FetchContext context, std::shared_ptr<Flight> flight, bool refresh) {
    // co_spawn runs a coroutine inline up to its first suspension when called on its executor's thread, and a
    // source may answer without suspending (a credential it cannot read). The caller that started this fetch
    // is still holding its entry: let it finish first.
    co_await asio::post(self->executor, asio::use_awaitable);
    std::optional<TokenOutcome> outcome;
    try {
      outcome = co_await source->fetch(key.second, context);
    } catch (const std::exception& e) {
      // Sources must not throw; if one does, its waiters still need an answer or they would wait forever.
      outcome = UpstreamFailure{0, {}, {}, std::nullopt, source->describe() + " threw: " + e.what()};
    } catch (...) {
      outcome = UpstreamFailure{0, {}, {}, std::nullopt, source->describe() + " threw"};
    }
    flight->result = self->finish(key, *flight, refresh, std::move(*outcome), *source);
    flight->done.cancel();
  }

  // Stores the outcome if the entry still awaits this flight; returns what its waiters get.
  Served finish(const Key& key, const Flight& flight, bool refresh, TokenOutcome outcome, const TokenSource& source) {
    --stats.in_flight;
    Served served{std::move(outcome), false};
    auto it = closed ? entries.end() : entries.find(key);
    // Evicted, invalidated or cleared meanwhile: the waiters get the outcome, the cache keeps nothing.
    if (it == entries.end() || it->second.flight.get() != &flight) return served;

    Entry& e = it->second;
    e.flight.reset();
    auto now = clock.now();
    if (auto* token = std::get_if<AccessToken>(&served.outcome)) {
      e.token = *token;
      ++generation;
      e.failure.reset();
      e.next_refresh_at = {};
      return served;
    }

    const auto& failure = std::get<UpstreamFailure>(served.outcome);
    auto retry_after = failure.retry_after.value_or(seconds{0});
    if (retry_after > seconds{0}) {
      e.failure = failure;
      e.failure_until = now + std::min(retry_after, options.max_retry_after);
      e.throttled = true;
    } else if (options.negative_ttl > seconds{0}) {
      e.failure = failure;
      e.failure_until = now + options.negative_ttl;
      e.throttled = false;
    }
    if (refresh) {
      ++stats.refresh_failures;
      e.next_refresh_at = now + std::max(options.refresh_retry_delay, std::min(retry_after, options.max_retry_after));
      log::warn("token refresh failed; the cached token is served meanwhile", {{"source", source.describe()},
                                                                               {"resource", key.second},
                                                                               {"status", failure.status},
                                                                               {"detail", failure.detail}});
    }
    if (stale_servable(e, now)) {
      served = Served{*e.token, true};
    } else if (!e.failure) {
      erase(it);  // neither a token nor a failure worth keeping
    }
    return served;
  }

  static asio::awaitable<Served> wait(std::shared_ptr<State> self, std::shared_ptr<Flight> flight) {
    if (!flight->result) {
      co_await flight->done.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (flight->result) {
      if (flight->result->from_cache) ++self->stats.stale_served;
      co_return *flight->result;
    }
    // Only this caller's wait was cancelled (it gave up): the fetch goes on for the others and for the cache.
    ++self->stats.cancelled;
    co_return Served{UpstreamFailure{0, {}, {}, std::nullopt, "cancelled while waiting for the token"}, false};
  }
};

TokenCache::TokenCache(asio::any_io_executor executor, const WallClock& clock, TokenCacheOptions options) {
  if (!(options.refresh_fraction > 0.0 && options.refresh_fraction <= 1.0)) {
    throw std::invalid_argument("token cache: refresh_fraction must be in (0, 1]");
  }
  if (options.max_entries == 0) throw std::invalid_argument("token cache: max_entries must be at least 1");
  if (options.min_remaining < seconds{0} || options.negative_ttl < seconds{0} || options.max_retry_after < seconds{0} ||
      options.refresh_retry_delay < seconds{0}) {
    throw std::invalid_argument("token cache: durations must not be negative");
  }
  state_ = std::make_shared<State>(std::move(executor), clock, options);
}

TokenCache::~TokenCache() {
  state_->closed = true;
  state_->lru.clear();
  state_->entries.clear();
}

asio::awaitable<Served> TokenCache::get(std::shared_ptr<TokenSource> source, const std::string& resource,
                                        const FetchContext& context) {
  std::shared_ptr<State> state = state_;  // outlives `this` if the cache goes while this caller waits
  if (!source) co_return Served{UpstreamFailure{0, {}, {}, std::nullopt, "no token source"}, false};
  auto& stats = state->stats;
  auto now = state->clock.now();
  Key key{source->cache_key(), resource};
  std::shared_ptr<Flight> flight;

  if (auto it = state->entries.find(key); it != state->entries.end()) {
    state->touch(it);
    auto& e = it->second;
    bool failure_live = e.failure && now < e.failure_until;
    bool refresh_due = e.token && now >= state->refresh_at(*e.token) && now >= e.next_refresh_at && !failure_live;
    if (e.token && state->usable(*e.token, now) && !(refresh_due && !state->options.refresh_in_background)) {
      Served served{*e.token, true};
      if (!e.flight && refresh_due) state->start(it, source, context, /*refresh=*/true);
      ++stats.hits;
      co_return served;
    }
    if (refresh_due && e.flight) {
      ++stats.coalesced;
      co_return co_await State::wait(std::move(state), e.flight);
    }
    if (refresh_due && state->usable(*e.token, now)) {
      // Due, and refreshed by this caller: the token stays for the stale rule if the refresh fails.
      flight = state->start(it, std::move(source), context, /*refresh=*/true);
      co_return co_await State::wait(std::move(state), std::move(flight));
    }
    if (failure_live && State::stale_servable(e, now)) {
      ++stats.stale_served;
      co_return Served{*e.token, true};
    }
    if (failure_live) {
      UpstreamFailure f = *e.failure;
      if (e.throttled) {
        ++stats.throttled;
        f.retry_after = std::chrono::ceil<seconds>(e.failure_until - now);
      } else {
        ++stats.negative_hits;
      }
      co_return Served{std::move(f), true};
    }
    if (e.flight) {
      ++stats.coalesced;
      flight = e.flight;
    } else {
      ++stats.misses;
      flight = state->start(it, std::move(source), context, false);
    }
  } else {
    ++stats.misses;
    flight = state->start(state->insert(std::move(key)), std::move(source), context, false);
  }
  co_return co_await State::wait(std::move(state), std::move(flight));
}

void TokenCache::invalidate(std::string_view source_cache_key) {
  auto& entries = state_->entries;
  for (auto it = entries.lower_bound(Key{std::string(source_cache_key), std::string()});
       it != entries.end() && it->first.first == source_cache_key;) {
    state_->erase(it++);
  }
}

void TokenCache::clear() {
  state_->lru.clear();
  state_->entries.clear();
  ++state_->generation;
}

uint64_t TokenCache::generation() const { return state_->generation; }

TokenCacheStats TokenCache::stats() const {
  TokenCacheStats s = state_->stats;
  s.entries = state_->entries.size();
  return s;
}

}  // namespace podid::azure
