// SPDX-License-Identifier: Apache-2.0
//
// A try (GET, then POST or PUT) runs in its own coroutine and hands back what it saw; only the loop changes
// the elector's state, and only with a try that finished before its deadline. A try cut off at the deadline
// may still land later: it then finds nobody listening, and its write is at worst a renewal by a replica
// that already stepped down (the Lease shows it as holder until it expires; the next leader waits for that).
#include "controller/leader/lease_elector.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <random>

#include "controller/kube/kube_errors.h"
#include "controller/leader/lease_record.h"
#include "podid/log.h"
#include "podid/spawn.h"

namespace podid::controller::leader {
namespace asio = boost::asio;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr double kCandidateJitter = 1.2;  // client-go's JitterFactor for acquiring

std::string meta_text(const json& object, const char* key) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) return {};
  const json& md = object["metadata"];
  auto it = md.find(key);
  return it != md.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Runs `op` but waits at most `limit` for it; nullopt when the limit passed first. `keep` stays alive until
// `op` really ends.
template <class T, class Keep>
asio::awaitable<std::optional<T>> within(asio::any_io_executor executor, SteadyClock::duration limit, Keep keep,
                                         asio::awaitable<T> op) {
  struct Pending {
    Pending(asio::any_io_executor ex, SteadyClock::duration d) : timer(std::move(ex), d) {}
    std::optional<T> value;
    asio::steady_timer timer;
  };
  auto pending = std::make_shared<Pending>(executor, limit);
  asio::co_spawn(
      executor,
      [pending, keep, op = std::move(op)]() mutable -> asio::awaitable<void> {
        auto value = co_await std::move(op);
        pending->value.emplace(std::move(value));
        pending->timer.cancel();
      },
      [pending](std::exception_ptr e) {
        // What `op` threw ends the wait at once, as no answer: logged here, where it would otherwise vanish.
        if (!e) return;
        log::warn("lease call failed", {{"error", describe_exception(e)}});
        pending->timer.cancel();
      });
  if (!pending->value) co_await pending->timer.async_wait(kTuple);
  co_return std::move(pending->value);
}

}  // namespace

std::string default_identity() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "podid-controller");
  std::random_device rd;
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%08x%08x", rd(), rd());
  return std::string(host) + "_" + suffix;
}

struct LeaseElector::Impl {
  enum class Held { kByUs, kByOther, kFailed };
  struct TryOutcome {
    Held held = Held::kFailed;
    LeaseObservation observed;
    LeaseRecord record;  // ours when kByUs, the other holder's when kByOther
    std::string resource_version;
    std::string error;
  };

  Impl(asio::any_io_executor ex, kube::MeteredApi& a, LeaseElectorOptions o, LeaderCallbacks c,
       prometheus::Registry& registry)
      : executor(ex),
        api(a),
        options(std::move(o)),
        callbacks(std::move(c)),
        clock(options.clock ? options.clock : &system_clock),
        is_leader_gauge(prometheus::BuildGauge()
                            .Name("podid_controller_is_leader")
                            .Help("1 while this podid-controller replica holds the leader Lease")
                            .Register(registry)
                            .Add({})),
        transitions(prometheus::BuildCounter()
                        .Name("podid_controller_leader_transitions_total")
                        .Help("Times this podid-controller replica started leading")
                        .Register(registry)
                        .Add({})),
        sleep_timer(ex),
        done_timer(ex, SteadyClock::time_point::max()),
        rng(std::random_device{}()) {
    if (options.identity.empty()) options.identity = default_identity();
  }

  std::string path(bool collection = false) const {
    std::string p = "/apis/coordination.k8s.io/v1/namespaces/" + options.ns + "/leases";
    return collection ? p : p + "/" + options.name;
  }
  std::chrono::seconds lease_seconds() const {
    auto s = std::chrono::ceil<std::chrono::seconds>(options.lease_duration);
    return std::max(s, std::chrono::seconds(1));
  }

  asio::awaitable<TryOutcome> try_acquire_or_renew(LeaseObservation observed);
  asio::awaitable<Result<bool>> release(LeaseRecord held, std::string resource_version);
  static asio::awaitable<void> run(std::shared_ptr<Impl> self);

  void start_leading();
  void stop_leading(const char* why);
  void note_failure(const std::string& error);

  asio::any_io_executor executor;
  kube::MeteredApi& api;
  LeaseElectorOptions options;
  LeaderCallbacks callbacks;
  SystemWallClock system_clock;
  const WallClock* clock;
  prometheus::Gauge& is_leader_gauge;
  prometheus::Counter& transitions;
  asio::steady_timer sleep_timer;
  asio::steady_timer done_timer;  // never expires; cancelled when the loop ends, to wake stop()
  std::mt19937_64 rng;

  std::atomic<bool> leading{false};
  bool running = false;   // between start() and the loop's end
  bool stopping = false;  // stop() called
  bool abandoned = false;  // the LeaseElector was destroyed: no callbacks, no release
  // The loop's state (changed only by the loop):
  LeaseObservation observed;
  LeaseRecord held;                // what we last wrote while leading
  std::string resource_version;    // of the Lease as we last read or wrote it
  SteadyClock::time_point last_renew{};
  std::string last_error;          // logs go out when this changes, not on every retry
  std::string last_other_holder;
};

asio::awaitable<LeaseElector::Impl::TryOutcome> LeaseElector::Impl::try_acquire_or_renew(LeaseObservation seen) {
  TryOutcome out;
  out.observed = seen;
  auto fail = [&out](std::string error) {
    out.held = Held::kFailed;
    out.error = std::move(error);
    return out;
  };
  auto got = co_await api.call("get", "leases", path());
  if (!got) co_return fail("read Lease: " + got.error().message());
  if (got->status == 404) {
    auto step = next_lease_step(std::nullopt, seen, options.identity, lease_seconds(), SteadyClock::now(), clock->now());
    json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", options.name}, {"namespace", options.ns}}},
                  {"spec", lease_spec(step.desired)}};
    auto created = co_await api.call("create", "leases", path(true), std::move(lease));
    if (!created) co_return fail("create Lease: " + created.error().message());
    if (!created->ok()) co_return fail(kube::status_error(*created, "create Lease").message());
    out.held = Held::kByUs;
    out.record = step.desired;
    out.observed = {step.desired, SteadyClock::now()};
    out.resource_version = meta_text(created->body, "resourceVersion");
    co_return out;
  }
  if (!got->ok()) co_return fail(kube::status_error(*got, "read Lease").message());
  auto current = lease_record_from(got->body);
  if (!current) co_return fail(current.error().message());
  auto step = next_lease_step(*current, seen, options.identity, lease_seconds(), SteadyClock::now(), clock->now());
  out.observed = step.observation;
  out.resource_version = meta_text(got->body, "resourceVersion");
  if (step.action == LeaseAction::kWait) {
    out.held = Held::kByOther;
    out.record = *current;
    co_return out;
  }
  json lease = std::move(got->body);
  lease["spec"] = lease_spec(step.desired);  // metadata.resourceVersion kept: the write's precondition
  auto put = co_await api.call("update", "leases", path(), std::move(lease));
  if (!put) co_return fail("update Lease: " + put.error().message());
  if (!put->ok()) co_return fail(kube::status_error(*put, "update Lease").message());
  out.held = Held::kByUs;
  out.record = step.desired;
  out.observed = {step.desired, SteadyClock::now()};
  out.resource_version = meta_text(put->body, "resourceVersion");
  co_return out;
}

asio::awaitable<Result<bool>> LeaseElector::Impl::release(LeaseRecord record, std::string rv) {
  LeaseRecord released = released_record(record, clock->now());
  json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", options.name}, {"namespace", options.ns}, {"resourceVersion", rv}}},
                {"spec", lease_spec(released)}};
  auto put = co_await api.call("update", "leases", path(), std::move(lease));
  if (!put) co_return put.error().wrap("release Lease");
  // 409: someone wrote the Lease since our last renewal, so it is not ours to release.
  if (!put->ok()) co_return kube::status_error(*put, "release Lease");
  co_return true;
}

void LeaseElector::Impl::start_leading() {
  leading = true;
  is_leader_gauge.Set(1);
  transitions.Increment();
  log::info("leader election: started leading", {{"lease", options.ns + "/" + options.name},
                                                 {"identity", options.identity}});
  if (callbacks.on_started_leading) callbacks.on_started_leading();
}

void LeaseElector::Impl::stop_leading(const char* why) {
  leading = false;
  is_leader_gauge.Set(0);
  log::warn("leader election: stopped leading",
            {{"lease", options.ns + "/" + options.name}, {"identity", options.identity}, {"why", why}});
  if (callbacks.on_stopped_leading) callbacks.on_stopped_leading();
}

void LeaseElector::Impl::note_failure(const std::string& error) {
  if (error == last_error) return;
  last_error = error;
  log::warn("leader election: try failed", {{"lease", options.ns + "/" + options.name}, {"error", error}});
}

asio::awaitable<void> LeaseElector::Impl::run(std::shared_ptr<Impl> self) {
  const auto retry = self->options.retry_period();
  const auto deadline = self->options.renew_deadline();
  while (!self->stopping) {
    auto now = SteadyClock::now();
    if (self->leading && now - self->last_renew >= deadline) self->stop_leading("not renewed within the renew deadline");
    // A leader's try may take only what is left of its renew deadline; a candidate's, the whole deadline.
    auto limit = self->leading ? self->last_renew + deadline - now : SteadyClock::duration(deadline);
    auto outcome = co_await within(self->executor, limit, self, self->try_acquire_or_renew(self->observed));
    if (!outcome) {
      self->note_failure("no answer within " + std::to_string(
                                                   std::chrono::duration_cast<std::chrono::milliseconds>(limit).count()) +
                         " ms");
    } else {
      self->observed = outcome->observed;
      if (!outcome->resource_version.empty()) self->resource_version = outcome->resource_version;
      switch (outcome->held) {
        case Held::kByUs:
          self->held = outcome->record;
          self->last_renew = SteadyClock::now();
          self->last_error.clear();
          if (!self->leading) self->start_leading();
          break;
        case Held::kByOther:
          self->last_error.clear();
          if (outcome->record.holder_identity != self->last_other_holder) {
            self->last_other_holder = outcome->record.holder_identity;
            log::info("leader election: lease held by another replica",
                      {{"lease", self->options.ns + "/" + self->options.name},
                       {"holder", outcome->record.holder_identity}});
          }
          if (self->leading) self->stop_leading("another replica holds the lease");
          break;
        case Held::kFailed:
          self->note_failure(outcome->error);
          break;
      }
    }
    if (self->leading && SteadyClock::now() - self->last_renew >= deadline) {
      self->stop_leading("not renewed within the renew deadline");
    }
    if (self->stopping) break;
    auto wait = std::chrono::duration_cast<SteadyClock::duration>(retry);
    if (!self->leading) {
      std::uniform_real_distribution<double> jitter(0.0, kCandidateJitter);
      wait += std::chrono::duration_cast<SteadyClock::duration>(retry * jitter(self->rng));
    }
    self->sleep_timer.expires_after(wait);
    co_await self->sleep_timer.async_wait(kTuple);
  }
  if (self->leading && self->abandoned) {
    // The elector was destroyed: nobody to call back, no release (the Lease expires as after a crash).
    self->leading = false;
    self->is_leader_gauge.Set(0);
  }
  if (self->leading) {
    auto released = co_await within(self->executor, SteadyClock::duration(deadline), self,
                                    self->release(self->held, self->resource_version));
    if (!released || !released->ok()) {
      log::warn("leader election: lease not released; the next leader waits for it to expire",
                {{"lease", self->options.ns + "/" + self->options.name},
                 {"error", released ? released->error().message() : std::string("no answer in time")}});
    }
    self->stop_leading("stopped");
  }
  self->running = false;
  self->done_timer.cancel();
}

LeaseElector::LeaseElector(asio::any_io_executor executor, kube::MeteredApi& api, LeaseElectorOptions options,
                           LeaderCallbacks callbacks, prometheus::Registry& registry)
    : impl_(std::make_shared<Impl>(std::move(executor), api, std::move(options), std::move(callbacks), registry)) {}

LeaseElector::~LeaseElector() {
  // No release here (it needs a coroutine) and no callbacks (their owner is likely going too): the loop ends
  // at its next step and the Lease expires, as after a crash. Call stop() first for a clean hand-over.
  impl_->abandoned = true;
  impl_->callbacks = {};
  impl_->stopping = true;
  impl_->sleep_timer.cancel();
}

void LeaseElector::start() {
  if (impl_->running || impl_->stopping) return;
  impl_->running = true;
  asio::co_spawn(impl_->executor, Impl::run(impl_), [impl = impl_](std::exception_ptr e) {
    if (!e) return;
    impl->running = false;
    impl->done_timer.cancel();
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("leader election loop ended", {{"error", ex.what()}});
    }
  });
}

asio::awaitable<void> LeaseElector::stop() {
  auto impl = impl_;
  impl->stopping = true;
  impl->sleep_timer.cancel();
  if (impl->running) co_await impl->done_timer.async_wait(kTuple);
}

bool LeaseElector::is_leader() const { return impl_->leading; }
const std::string& LeaseElector::identity() const { return impl_->options.identity; }

}  // namespace podid::controller::leader
