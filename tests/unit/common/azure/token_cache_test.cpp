// SPDX-License-Identifier: Apache-2.0
#include "podid/azure/token_cache.h"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>

#include "fakes.h"

namespace podid::azure {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeSource;

const std::string kVault = "https://vault.azure.net";
const std::string kArm = "https://management.azure.com/";

class TokenCacheTest : public ::testing::Test {
 protected:
  void make_cache(TokenCacheOptions options = {}) {
    cache = std::make_unique<TokenCache>(io.get_executor(), clock, options);
  }
  void SetUp() override { make_cache(); }

  std::shared_ptr<FakeSource> source(std::string key = "fake/a") {
    return std::make_shared<FakeSource>(io.get_executor(), clock, std::move(key));
  }

  // Starts a get; its result lands in *out when it finishes.
  void spawn_get(std::shared_ptr<FakeSource> src, std::string resource, std::optional<Served>* out,
                 asio::cancellation_slot slot = {}) {
    asio::co_spawn(
        io,
        [this, src, resource, out]() -> asio::awaitable<void> {
          // A named context, not a braced temporary: GCC 12 destroys braced temporaries inside a co_await
          // expression twice.
          FetchContext context{"ns", "pod", "sa"};
          *out = co_await cache->get(src, resource, context);
        },
        asio::bind_cancellation_slot(slot, [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        }));
  }

  // Runs everything that can run now (blocked fetches stay blocked).
  void settle() {
    io.restart();
    io.poll();
  }

  Served get(std::shared_ptr<FakeSource> src, const std::string& resource) {
    std::optional<Served> out;
    spawn_get(std::move(src), resource, &out);
    settle();
    EXPECT_TRUE(out.has_value()) << "get did not finish";
    return out.value_or(Served{UpstreamFailure{}, false});
  }

  static std::string token_of(const Served& s) {
    auto* t = std::get_if<AccessToken>(&s.outcome);
    return t ? t->access_token : "<failure: " + std::get<UpstreamFailure>(s.outcome).detail + ">";
  }

  asio::io_context io;
  FakeClock clock;
  std::unique_ptr<TokenCache> cache;
};

TEST_F(TokenCacheTest, MissThenFreshHitMakesOneUpstreamCall) {
  auto src = source();
  Served first = get(src, kVault);
  EXPECT_EQ(token_of(first), "tok-1");
  EXPECT_FALSE(first.from_cache);
  clock.advance(10min);
  Served second = get(src, kVault);
  EXPECT_EQ(token_of(second), "tok-1");
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(src->calls, 1);
  EXPECT_EQ(src->resources, std::vector<std::string>{kVault});
  auto stats = cache->stats();
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.in_flight, 0u);
}

TEST_F(TokenCacheTest, ResourcesAndCredentialsAreSeparateEntries) {
  auto a = source("fake/a"), b = source("fake/b");
  EXPECT_EQ(token_of(get(a, kVault)), "tok-1");
  EXPECT_EQ(token_of(get(a, kArm)), "tok-2");
  EXPECT_EQ(token_of(get(b, kVault)), "tok-1");
  EXPECT_EQ(a->calls, 2);
  EXPECT_EQ(b->calls, 1);
  EXPECT_EQ(cache->stats().entries, 3u);
}

TEST_F(TokenCacheTest, HundredConcurrentCallersShareOneFetch) {
  auto src = source();
  src->block = true;
  std::vector<std::optional<Served>> results(100);
  for (auto& r : results) spawn_get(src, kVault, &r);
  settle();
  EXPECT_EQ(src->calls, 1);
  for (auto& r : results) EXPECT_FALSE(r.has_value());
  EXPECT_EQ(cache->stats().in_flight, 1u);

  src->release();
  settle();
  for (auto& r : results) {
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(token_of(*r), "tok-1");
    EXPECT_FALSE(r->from_cache);
  }
  EXPECT_EQ(src->calls, 1);
  auto stats = cache->stats();
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.coalesced, 99u);
  EXPECT_EQ(stats.in_flight, 0u);
  EXPECT_TRUE(get(src, kVault).from_cache);
}

TEST_F(TokenCacheTest, ConcurrentFailureReachesEveryWaiterAndIsNotCached) {
  auto src = source();
  src->block = true;
  src->answer = [](const std::string&) { return testing::failure(400); };
  std::vector<std::optional<Served>> results(5);
  for (auto& r : results) spawn_get(src, kVault, &r);
  settle();
  src->release();
  settle();
  for (auto& r : results) {
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(std::holds_alternative<UpstreamFailure>(r->outcome));
    EXPECT_EQ(std::get<UpstreamFailure>(r->outcome).status, 400u);
  }
  EXPECT_EQ(src->calls, 1);
  EXPECT_EQ(cache->stats().entries, 0u);  // nothing worth keeping
  src->block = false;
  get(src, kVault);
  EXPECT_EQ(src->calls, 2);  // not cached: the next caller asks again
}

TEST_F(TokenCacheTest, RefreshAheadServesCachedTokenAndRefreshesOnceInBackground) {
  auto src = source();  // 3600 s lifetime: refresh due at 1800 s, unusable at 3300 s
  get(src, kVault);
  clock.advance(1799s);
  EXPECT_TRUE(get(src, kVault).from_cache);
  EXPECT_EQ(src->calls, 1);

  src->block = true;
  clock.advance(2s);  // past the half life
  Served a = get(src, kVault);
  EXPECT_EQ(token_of(a), "tok-1");
  EXPECT_TRUE(a.from_cache);
  EXPECT_EQ(src->calls, 2);     // the refresh started
  Served b = get(src, kVault);  // refresh still in flight: served from cache, no second refresh
  EXPECT_EQ(token_of(b), "tok-1");
  EXPECT_EQ(src->calls, 2);

  src->release();
  settle();
  Served c = get(src, kVault);
  EXPECT_EQ(token_of(c), "tok-2");
  EXPECT_TRUE(c.from_cache);
  auto stats = cache->stats();
  EXPECT_EQ(stats.refreshes, 1u);
  EXPECT_EQ(stats.hits, 4u);
  EXPECT_EQ(stats.misses, 1u);
}

TEST_F(TokenCacheTest, RefreshFractionIsConfigurable) {
  make_cache({.refresh_fraction = 0.8});
  auto src = source();
  get(src, kVault);
  clock.advance(2000s);  // past half, before 80 % (2880 s)
  get(src, kVault);
  EXPECT_EQ(src->calls, 1);
  clock.advance(900s);
  get(src, kVault);
  settle();
  EXPECT_EQ(src->calls, 2);
}

TEST_F(TokenCacheTest, FailedBackgroundRefreshKeepsTheOldTokenAndBacksOff) {
  auto src = source();
  get(src, kVault);
  src->answer = [](const std::string&) { return testing::failure(500); };
  clock.advance(1801s);
  EXPECT_EQ(token_of(get(src, kVault)), "tok-1");
  settle();
  EXPECT_EQ(src->calls, 2);
  EXPECT_EQ(cache->stats().refresh_failures, 1u);

  clock.advance(10s);  // within refresh_retry_delay (30 s): no new attempt
  EXPECT_EQ(token_of(get(src, kVault)), "tok-1");
  settle();
  EXPECT_EQ(src->calls, 2);

  clock.advance(21s);
  src->answer = nullptr;
  EXPECT_EQ(token_of(get(src, kVault)), "tok-1");
  settle();
  EXPECT_EQ(src->calls, 3);
  EXPECT_EQ(token_of(get(src, kVault)), "tok-3");
}

TEST_F(TokenCacheTest, NearlyExpiredTokenIsFetchedAgainByTheCaller) {
  auto src = source();
  get(src, kVault);
  // Skip the refresh window entirely (as after an idle period): 299 s left < min_remaining 300 s.
  clock.advance(3301s);
  Served s = get(src, kVault);
  EXPECT_EQ(token_of(s), "tok-2");
  EXPECT_FALSE(s.from_cache);
  EXPECT_EQ(src->calls, 2);
  EXPECT_EQ(cache->stats().misses, 2u);
}

TEST_F(TokenCacheTest, ExpiredTokenIsNeverServed) {
  auto src = source();
  get(src, kVault);
  clock.advance(2h);
  src->answer = [](const std::string&) { return testing::failure(500); };
  Served s = get(src, kVault);
  ASSERT_TRUE(std::holds_alternative<UpstreamFailure>(s.outcome));
  EXPECT_EQ(std::get<UpstreamFailure>(s.outcome).status, 500u);
  EXPECT_EQ(cache->stats().stale_served, 0u);
}

TEST_F(TokenCacheTest, FailedFetchServesAStillValidTokenInstead) {
  auto src = source();
  get(src, kVault);
  clock.advance(3400s);  // 200 s left: not served normally, but better than an outage
  src->answer = [](const std::string&) { return testing::failure(503, 20s); };
  Served s = get(src, kVault);
  EXPECT_EQ(token_of(s), "tok-1");
  EXPECT_TRUE(s.from_cache);
  // While the Retry-After lasts, the same token keeps being served, without upstream calls.
  clock.advance(10s);
  EXPECT_EQ(token_of(get(src, kVault)), "tok-1");
  EXPECT_EQ(src->calls, 2);
  EXPECT_EQ(cache->stats().stale_served, 2u);
  // Under a minute left: no longer served; the throttled failure is.
  clock.advance(20s);
  get(src, kVault);
  EXPECT_EQ(src->calls, 3);
  clock.advance(150s);  // 20 s left
  Served late = get(src, kVault);
  ASSERT_TRUE(std::holds_alternative<UpstreamFailure>(late.outcome));
}

TEST_F(TokenCacheTest, RetryAfterIsHonouredWithoutUpstreamCalls) {
  auto src = source();
  src->answer = [](const std::string&) { return testing::failure(429, 30s); };
  Served first = get(src, kVault);
  ASSERT_TRUE(std::holds_alternative<UpstreamFailure>(first.outcome));
  EXPECT_FALSE(first.from_cache);
  EXPECT_EQ(std::get<UpstreamFailure>(first.outcome).retry_after, 30s);

  clock.advance(10s);
  clock.advance(500ms);
  Served second = get(src, kVault);
  ASSERT_TRUE(std::holds_alternative<UpstreamFailure>(second.outcome));
  const auto& f = std::get<UpstreamFailure>(second.outcome);
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(f.status, 429u);
  EXPECT_EQ(f.body, R"({"error":"too_many_requests"})");
  EXPECT_EQ(f.content_type, "application/json");
  EXPECT_EQ(f.retry_after, 20s);  // 19.5 s left, rounded up
  EXPECT_EQ(src->calls, 1);
  EXPECT_EQ(cache->stats().throttled, 1u);

  clock.advance(20s);
  src->answer = nullptr;
  EXPECT_EQ(token_of(get(src, kVault)), "tok-2");
  EXPECT_EQ(src->calls, 2);
}

TEST_F(TokenCacheTest, RetryAfterIsCapped) {
  make_cache({.max_retry_after = 60s});
  auto src = source();
  src->answer = [](const std::string&) { return testing::failure(429, 86400s); };
  get(src, kVault);
  clock.advance(59s);
  EXPECT_EQ(std::get<UpstreamFailure>(get(src, kVault).outcome).retry_after, 1s);
  EXPECT_EQ(src->calls, 1);
  clock.advance(1s);
  get(src, kVault);
  EXPECT_EQ(src->calls, 2);
}

TEST_F(TokenCacheTest, NegativeTtlRemembersPlainFailuresWhenSet) {
  make_cache({.negative_ttl = 5s});
  auto src = source();
  src->answer = [](const std::string&) { return testing::failure(400); };
  get(src, kVault);
  clock.advance(4s);
  Served s = get(src, kVault);
  EXPECT_TRUE(s.from_cache);
  EXPECT_EQ(std::get<UpstreamFailure>(s.outcome).retry_after, std::nullopt);
  EXPECT_EQ(src->calls, 1);
  EXPECT_EQ(cache->stats().negative_hits, 1u);
  clock.advance(1s);
  get(src, kVault);
  EXPECT_EQ(src->calls, 2);
}

TEST_F(TokenCacheTest, LeastRecentlyUsedEntryIsEvicted) {
  make_cache({.max_entries = 3});
  auto src = source();
  get(src, "r1");
  get(src, "r2");
  get(src, "r3");
  get(src, "r1");  // r2 is now the least recently used
  get(src, "r4");
  EXPECT_EQ(src->calls, 4);
  auto stats = cache->stats();
  EXPECT_EQ(stats.evictions, 1u);
  EXPECT_EQ(stats.entries, 3u);
  EXPECT_TRUE(get(src, "r1").from_cache);
  EXPECT_TRUE(get(src, "r3").from_cache);
  EXPECT_TRUE(get(src, "r4").from_cache);
  EXPECT_FALSE(get(src, "r2").from_cache);
  EXPECT_EQ(src->calls, 5);
}

TEST_F(TokenCacheTest, EvictedEntryWithFetchInFlightStillAnswersItsWaiters) {
  make_cache({.max_entries = 1});
  auto src = source();
  src->block = true;
  std::optional<Served> r1;
  spawn_get(src, "r1", &r1);
  settle();
  std::optional<Served> r2;
  spawn_get(src, "r2", &r2);  // evicts r1 while its fetch is in flight
  settle();
  src->release();
  settle();
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(token_of(*r1), "tok-1");
  EXPECT_EQ(token_of(*r2), "tok-2");
  src->block = false;
  EXPECT_TRUE(get(src, "r2").from_cache);
  EXPECT_FALSE(get(src, "r1").from_cache);  // r1's token was not stored after its eviction
}

TEST_F(TokenCacheTest, InvalidateDropsEveryResourceOfOneCredential) {
  auto a = source("fake/a"), a2 = source("fake/a2"), b = source("fake/b");
  get(a, kVault);
  get(a, kArm);
  get(a2, kVault);
  get(b, kVault);
  cache->invalidate("fake/a");
  EXPECT_EQ(cache->stats().entries, 2u);
  EXPECT_FALSE(get(a, kVault).from_cache);
  EXPECT_FALSE(get(a, kArm).from_cache);
  EXPECT_TRUE(get(a2, kVault).from_cache);  // a key that merely starts the same is another credential
  EXPECT_TRUE(get(b, kVault).from_cache);
  cache->clear();
  EXPECT_EQ(cache->stats().entries, 0u);
  EXPECT_FALSE(get(b, kVault).from_cache);
}

TEST_F(TokenCacheTest, InvalidateDuringAFetchAnswersWaitersButStoresNothing) {
  auto src = source();
  src->block = true;
  std::optional<Served> r;
  spawn_get(src, kVault, &r);
  settle();
  cache->invalidate("fake/a");
  src->release();
  settle();
  ASSERT_TRUE(r);
  EXPECT_EQ(token_of(*r), "tok-1");
  src->block = false;
  EXPECT_FALSE(get(src, kVault).from_cache);
  EXPECT_EQ(src->calls, 2);
}

TEST_F(TokenCacheTest, ChangedCacheKeyIsANewCredential) {
  auto src = source("sp-secret/t/c/fp1");
  get(src, kVault);
  src->set_key("sp-secret/t/c/fp2");  // the Secret rotated
  EXPECT_FALSE(get(src, kVault).from_cache);
  EXPECT_EQ(src->calls, 2);
}

TEST_F(TokenCacheTest, CallerCancelledMidWaitLeavesTheOthersServed) {
  auto src = source();
  src->block = true;
  asio::cancellation_signal first_gives_up;
  std::optional<Served> first, second;
  spawn_get(src, kVault, &first, first_gives_up.slot());  // the caller whose miss started the fetch
  spawn_get(src, kVault, &second);
  settle();
  first_gives_up.emit(asio::cancellation_type::terminal);
  settle();
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(std::holds_alternative<UpstreamFailure>(first->outcome));
  EXPECT_EQ(std::get<UpstreamFailure>(first->outcome).detail, "cancelled while waiting for the token");
  EXPECT_FALSE(second.has_value());

  src->release();
  settle();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(token_of(*second), "tok-1");
  EXPECT_TRUE(get(src, kVault).from_cache);  // the fetch was stored despite its starter leaving
  EXPECT_EQ(src->calls, 1);
  EXPECT_EQ(cache->stats().cancelled, 1u);
}

TEST_F(TokenCacheTest, OnlyCallerCancelledStillFillsTheCache) {
  auto src = source();
  src->block = true;
  asio::cancellation_signal gives_up;
  std::optional<Served> only;
  spawn_get(src, kVault, &only, gives_up.slot());
  settle();
  gives_up.emit(asio::cancellation_type::terminal);
  settle();
  ASSERT_TRUE(only.has_value());
  src->release();
  settle();
  EXPECT_EQ(src->completed, 1);
  EXPECT_TRUE(get(src, kVault).from_cache);
}

TEST_F(TokenCacheTest, CacheDestroyedWithFetchInFlightAnswersWaiters) {
  auto src = source();
  src->block = true;
  std::optional<Served> r;
  spawn_get(src, kVault, &r);
  settle();
  cache.reset();
  src->release();
  settle();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(token_of(*r), "tok-1");
}

TEST(TokenCacheTeardown, IoContextDestroyedWithCallersWaiting) {
  FakeClock clock;
  std::optional<Served> r;
  {
    asio::io_context io;
    auto cache = std::make_unique<TokenCache>(io.get_executor(), clock);
    auto src = std::make_shared<FakeSource>(io.get_executor(), clock);
    src->block = true;
    for (int i = 0; i < 3; ++i) {
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            FetchContext context;
            r = co_await cache->get(src, kVault, context);
          },
          asio::detached);
    }
    io.poll();
    EXPECT_EQ(src->calls, 1);
    // Coroutine frames (callers and the fetch) are destroyed with the io_context, never resumed.
  }
  EXPECT_FALSE(r.has_value());
}

TEST_F(TokenCacheTest, ASourceThatThrowsStillAnswersItsWaiters) {
  auto src = source();
  src->fail_by_throwing = true;
  Served s = get(src, kVault);
  ASSERT_TRUE(std::holds_alternative<UpstreamFailure>(s.outcome));
  EXPECT_EQ(std::get<UpstreamFailure>(s.outcome).status, 0u);
  EXPECT_NE(std::get<UpstreamFailure>(s.outcome).detail.find("threw: boom"), std::string::npos);
}

TEST(TokenCacheOptions, OutOfRangeOptionsAreRefused) {
  asio::io_context io;
  FakeClock clock;
  EXPECT_THROW(TokenCache(io.get_executor(), clock, {.refresh_fraction = 0}), std::invalid_argument);
  EXPECT_THROW(TokenCache(io.get_executor(), clock, {.refresh_fraction = 1.5}), std::invalid_argument);
  EXPECT_THROW(TokenCache(io.get_executor(), clock, {.max_entries = 0}), std::invalid_argument);
  EXPECT_THROW(TokenCache(io.get_executor(), clock, {.negative_ttl = -1s}), std::invalid_argument);
}

}  // namespace
}  // namespace podid::azure

namespace podid::azure {
namespace {

// The agent's replayed answers hold while this is unchanged: every change to what a get would serve moves it.
TEST_F(TokenCacheTest, GenerationMovesWhenATokenIsStoredDroppedOrClearedAndNotOnAHit) {
  auto src = source();
  uint64_t start = cache->generation();
  get(src, kVault);
  uint64_t stored = cache->generation();
  EXPECT_NE(stored, start);
  get(src, kVault);  // a hit changes nothing
  EXPECT_EQ(cache->generation(), stored);
  clock.advance(40min);  // past the refresh point: the background refresh stores a new token
  get(src, kVault);
  settle();
  uint64_t refreshed = cache->generation();
  EXPECT_NE(refreshed, stored);
  cache->invalidate("fake/a");
  uint64_t invalidated = cache->generation();
  EXPECT_NE(invalidated, refreshed);
  get(src, kVault);
  uint64_t again = cache->generation();
  cache->clear();
  EXPECT_NE(cache->generation(), again);
}

}  // namespace
}  // namespace podid::azure
