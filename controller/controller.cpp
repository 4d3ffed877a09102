// SPDX-License-Identifier: Apache-2.0
#include "controller/controller.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>

#include <malloc.h>

#include "podid/log.h"

namespace podid::controller {
namespace asio = boost::asio;
namespace {

// Informer events arrive one by one (a relist delivers hundreds at once); one view per burst is enough. A view
// costs time in proportion to the cluster (every bound pod and AzureAssignedIdentity), so under a stream of
// events the pause between views grows with that cost: at most a third of the thread goes to views, the rest to
// rounds and to the Lease. Capped so that a change never waits long.
constexpr std::chrono::milliseconds kSettle{50};
constexpr std::chrono::milliseconds kMaxSettle{2000};

WorkQueueOptions queue_options(const ControllerConfig& c) {
  WorkQueueOptions o;
  o.window = c.coalesce_window;
  o.initial_backoff = c.retry_initial;
  o.max_backoff = c.retry_max;
  return o;
}

}  // namespace

Controller::Controller(asio::io_context& io, const ControllerConfig& config, ClusterCache& cache, RoundDeps deps,
                       ControllerMetrics& metrics)
    : io_(io),
      config_(config),
      cache_(cache),
      deps_(std::move(deps)),
      metrics_(metrics),
      queue_(queue_options(config)),
      recompute_timer_(io),
      drive_timer_(io),
      drift_timer_(io) {}

Controller::~Controller() = default;

std::string Controller::not_ready_reason() const {
  for (const auto& [name, s] : cache_.stats()) {
    if (!s.synced) return "informer " + name + " has not listed yet" + (s.last_error.empty() ? "" : ": " + s.last_error);
  }
  return "";
}

void Controller::cache_changed() { schedule_recompute(); }

void Controller::schedule_recompute() {
  if (recompute_pending_) return;
  recompute_pending_ = true;
  auto settle = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(2 * last_recompute_), kSettle, kMaxSettle);
  recompute_timer_.expires_after(settle);
  recompute_timer_.async_wait([this](boost::system::error_code ec) {
    recompute_pending_ = false;
    if (!ec) recompute();
  });
}

void Controller::recompute() {
  // Never act on a partial view: with bindings listed but pods not yet, every identity would look unneeded.
  if (!cache_.synced()) return;
  const auto started = deps_.clock.now();
  std::vector<DesiredProblem> invalid;
  auto snapshot = cache_.snapshot(config_.force_namespaced, &invalid);
  auto existing = cache_.assigned_identities(&invalid);
  auto view = make_cluster_view(std::move(snapshot), std::move(existing), std::move(invalid));
  // Assignment latency is measured from the first view that needed an AAI; forget those no longer needed.
  const auto now = deps_.clock.now();
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> first_needed;
  for (const auto& a : view->desired.assignments) {
    std::string key = a.ns + "/" + a.name;
    auto it = memory_.first_needed.find(key);
    first_needed.emplace(std::move(key), it == memory_.first_needed.end() ? now : it->second);
  }
  memory_.first_needed = std::move(first_needed);
  report_problems(*view);
  view_ = view;
  if (leading_) queue_changed_computes(*view);
  last_recompute_ = deps_.clock.now() - started;
  // The previous view was just freed (unless a round still holds it): hand the pages back. glibc keeps freed
  // heap otherwise, and a burst of 10,000 pods would leave the controller at its peak size for good.
  ::malloc_trim(0);
}

void Controller::queue_changed_computes(const ClusterView& view) {
  const auto now = deps_.clock.now();
  for (const auto& [key, need] : view.desired.computes) {
    auto applied = memory_.applied.find(key);
    if (applied == memory_.applied.end() || applied->second != canonical_set(need.identity_ids)) queue_.add(key, now);
  }
  for (const auto& [key, compute] : memory_.ledger_computes) {
    if (!view.desired.computes.count(key) && has_work(key)) queue_.add(key, now);
  }
  for (const auto& key : view.computes_with_pending_assignments) queue_.add(key, now);
  wake();
}

void Controller::queue_all(const ClusterView& view) {
  const auto now = deps_.clock.now();
  for (const auto& [key, need] : view.desired.computes) {
    if (need.identity_ids.empty()) continue;
    forced_.insert(key);  // a new leader checks every compute once
    queue_.add(key, now);
  }
  for (const auto& [key, compute] : memory_.ledger_computes) {
    forced_.insert(key);
    queue_.add(key, now);
  }
  for (const auto& key : view.computes_with_pending_assignments) queue_.add(key, now);
  wake();
}

void Controller::report_problems(const ClusterView& view) {
  std::set<std::string, std::less<>> current;
  for (const auto& p : view.problems) {
    std::string id = p.kind + "/" + p.ns + "/" + p.name + "/" + p.reason;
    current.insert(id);
    if (problems_seen_.count(id)) continue;
    metrics_.problem(p.reason);
    log::warn("object cannot be used", {{"kind", p.kind}, {"namespace", p.ns}, {"name", p.name},
                                        {"reason", p.reason}, {"message", p.message}});
    if (!leading_) continue;
    kube::ObjectRef ref{.api_version = p.kind == "Node" || p.kind == "Pod" ? "v1" : "aadpodidentity.k8s.io/v1",
                        .kind = p.kind, .ns = p.ns, .name = p.name};
    asio::co_spawn(io_, deps_.events.record(ref, kube::EventType::kWarning, p.reason, p.message), asio::detached);
  }
  problems_seen_ = std::move(current);
}

void Controller::start_leading() {
  if (leading_) return;
  leading_ = true;
  log::info("leading: reconciling scale sets");
  // Computes podid added identities to, whether or not a node of the cluster is still on them.
  asio::co_spawn(
      io_,
      [this]() -> asio::awaitable<void> {
        auto entries = co_await deps_.ledger.list_ledgers();
        if (!entries) {
          log::error("cannot list the ledger; removals wait for it", {{"error", entries.error().message()}});
        } else {
          for (auto& e : *entries) memory_.ledger_computes.emplace(e.compute.key(), e.compute);
        }
        if (view_) queue_all(*view_);
        co_await drive();
      },
      [](std::exception_ptr e) {
        if (e) log::error("controller loop ended by an exception");
      });
  schedule_drift_check();
  recompute();
}

void Controller::stop_leading() {
  if (!leading_) return;
  leading_ = false;
  log::warn("no longer leading: rounds stop");
  drift_timer_.cancel();
  wake();
}

void Controller::wake() { drive_timer_.cancel(); }

asio::awaitable<void> Controller::drive() {
  while (leading_) {
    const auto now = deps_.clock.now();
    while (in_flight_ < config_.max_parallel_computes) {
      auto key = queue_.pop(now);
      if (!key) break;
      ++in_flight_;
      asio::co_spawn(io_, work_on(*key), [key = *key](std::exception_ptr e) {
        if (e) log::error("round ended by an exception", {{"compute", key}});
      });
    }
    metrics_.set_queue_depth(queue_.depth(), queue_.processing());
    auto due = queue_.next_due();
    drive_timer_.expires_at(due ? std::max(*due, now) : now + std::chrono::hours(1));
    co_await drive_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

bool Controller::has_work(const std::string& key) const {
  if (!view_) return false;
  if (forced_.count(key) || view_->computes_with_pending_assignments.count(key)) return true;
  auto need = view_->desired.computes.find(key);
  auto applied = memory_.applied.find(key);
  if (need == view_->desired.computes.end()) {
    // No node on it any more: work while podid's ledger may still hold identities there.
    return memory_.ledger_computes.count(key) > 0 && (applied == memory_.applied.end() || !applied->second.empty());
  }
  return applied == memory_.applied.end() || applied->second != canonical_set(need->second.identity_ids);
}

asio::awaitable<void> Controller::work_on(std::string key) {
  // Queued for a change that the cache has since shown done (our own writes coming back): nothing to ask ARM.
  Outcome outcome = Outcome::success();
  if (has_work(key)) {
    forced_.erase(key);
    outcome = co_await run_round(view_, key, deps_, memory_, metrics_);
  }
  --in_flight_;
  queue_.done(key, deps_.clock.now(), outcome);
  // The round's writes come back through the informers and queue what is still pending; a view taken during
  // the round may already be stale, so look again.
  schedule_recompute();
  wake();
}

void Controller::schedule_drift_check() {
  if (config_.drift_check_interval.count() == 0) return;
  drift_timer_.expires_after(config_.drift_check_interval);
  drift_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || !leading_) return;
    // One GET per compute that should hold identities: the round PATCHes only if something went missing.
    if (view_) {
      const auto now = deps_.clock.now();
      for (const auto& [key, need] : view_->desired.computes) {
        if (need.identity_ids.empty()) continue;
        forced_.insert(key);
        queue_.add(key, now);
      }
      wake();
    }
    schedule_drift_check();
  });
}

}  // namespace podid::controller
