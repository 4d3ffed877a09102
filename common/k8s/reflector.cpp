// SPDX-License-Identifier: Apache-2.0
//
// The list/watch loop. Impl is shared by the Reflector and the running coroutine, so a stop() followed at
// once by ~Reflector leaves the unwinding coroutine a live object; after every resumption the loop checks
// `stopped` before it touches the ApiClient or the consumer's handler, which may both be gone by then.
#include "podid/k8s/reflector.h"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "backoff.h"
#include "object_metadata.h"
#include "podid/encoding/percent.h"
#include "podid/log.h"

namespace podid::k8s {
namespace asio = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr int kPageSize = 500;
// A watch that ends by itself sooner than this without delivering anything is suspect (a proxy closing at
// once, a server ignoring timeoutSeconds): waiting before the next one keeps us from hammering it.
constexpr std::chrono::seconds kHealthyWatch{1};

enum class Outcome { kOk, kGone, kFailed };

struct Step {
  Outcome outcome = Outcome::kOk;
  std::string error;
  bool progressed = false;  // a watch delivered events or bookmarks, or stayed open a while
};

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

}  // namespace

struct Reflector::Impl {
  Impl(asio::any_io_executor ex, ApiClient& client, ReflectorOptions opts, ReflectorHandler h)
      : executor(std::move(ex)),
        api(&client),
        options(std::move(opts)),
        handler(std::move(h)),
        backoff(options.backoff_initial, options.backoff_max, std::random_device{}()) {}

  asio::any_io_executor executor;
  ApiClient* api;
  ReflectorOptions options;
  ReflectorHandler handler;
  ReflectorStats stats;
  std::atomic<bool> stopped{false};
  bool running = false;  // between start() and the coroutine's end; read and written on the executor
  asio::cancellation_signal cancel;
  std::string resource_version;
  detail::Backoff backoff;
  bool failing = false;  // logs go out when this flips, not on every retry

  static asio::awaitable<void> run(std::shared_ptr<Impl> self);
  asio::awaitable<Step> list_all();
  asio::awaitable<Step> watch_once();
  asio::awaitable<void> sleep(std::chrono::milliseconds delay);

  std::string selectors() const;
  void healthy();
  void failed(const char* msg, const std::string& error, std::chrono::milliseconds retry_in);
};

std::string Reflector::Impl::selectors() const {
  std::string out;
  if (!options.field_selector.empty()) out += "&fieldSelector=" + encoding::percent_encode(options.field_selector);
  if (!options.label_selector.empty()) out += "&labelSelector=" + encoding::percent_encode(options.label_selector);
  return out;
}

void Reflector::Impl::healthy() {
  stats.connected = true;
  stats.last_success = std::chrono::system_clock::now();
  if (failing) {
    failing = false;
    log::info("k8s reflector recovered", {{"reflector", options.name}, {"failures_total", stats.failures}});
  }
}

void Reflector::Impl::failed(const char* msg, const std::string& error, std::chrono::milliseconds retry_in) {
  ++stats.failures;
  stats.last_error = error;
  stats.connected = false;
  if (!failing) {
    failing = true;
    log::warn(msg, {{"reflector", options.name}, {"error", error}, {"retry_in_ms", retry_in.count()}});
  }
}

asio::awaitable<void> Reflector::Impl::sleep(std::chrono::milliseconds delay) {
  asio::steady_timer timer(executor, delay);
  co_await timer.async_wait(kTuple);  // cut short by stop(); the loop then sees `stopped`
}

asio::awaitable<Step> Reflector::Impl::list_all() {
  const bool streaming = static_cast<bool>(handler.list_item);
  std::vector<json> items;  // replace() consumers only
  std::size_t count = 0;
  // Called inside list_page after it resumed: by then stop() may have run and the consumer be gone.
  auto on_item = [this, streaming, &items, &count](json&& item) {
    if (stopped) return;
    ++count;
    if (streaming) {
      handler.list_item(std::move(item));
    } else {
      items.push_back(std::move(item));
    }
  };
  // A list that breaks off: a streaming consumer drops the part it was given.
  auto broke_off = [this, streaming](Step step) {
    if (streaming && !stopped) handler.list_end(false);
    return step;
  };
  std::string continue_token;
  std::string version;
  for (;;) {
    std::string path = options.collection_path + "?limit=" + std::to_string(kPageSize) + selectors();
    if (!continue_token.empty()) path += "&continue=" + encoding::percent_encode(continue_token);
    auto res = co_await api->list_page(path, on_item);
    if (stopped) co_return Step{Outcome::kFailed, "stopped"};
    if (!res) co_return broke_off(Step{Outcome::kFailed, res.error().message()});
    // 410 here: the continue token outlived the server's history. Only a fresh list helps.
    if (res->status == 410) co_return broke_off(Step{Outcome::kGone, "list: " + res->message()});
    if (!res->ok()) {
      co_return broke_off(
          Step{Outcome::kFailed, "list " + path + ": HTTP " + std::to_string(res->status) + ": " + res->message()});
    }
    version = detail::metadata_string(res->body, "resourceVersion");
    continue_token = detail::metadata_string(res->body, "continue");
    if (continue_token.empty()) break;
  }
  if (version.empty()) co_return broke_off(Step{Outcome::kFailed, "list: no metadata.resourceVersion in the answer"});

  resource_version = version;
  ++stats.lists;
  bool first = !stats.synced;
  stats.synced = true;
  healthy();
  if (streaming) {
    handler.list_end(true);
  } else if (handler.replace) {
    handler.replace(items);
  }
  log::info(first ? "k8s reflector synced" : "k8s reflector relisted",
            {{"reflector", options.name}, {"items", count}, {"resourceVersion", version}});
  co_return Step{Outcome::kOk, "", true};
}

asio::awaitable<Step> Reflector::Impl::watch_once() {
  std::string path = options.collection_path +
                     "?watch=1&allowWatchBookmarks=true&resourceVersion=" + encoding::percent_encode(resource_version) +
                     "&timeoutSeconds=" + std::to_string(options.watch_timeout_seconds) + selectors();
  ++stats.watches;
  const auto started = Clock::now();
  Step step;
  // Runs inside api->watch, which this frame awaits: `step` and `this` outlive it.
  auto on_event = [this, &step](const WatchEvent& ev) {
    if (stopped) return false;
    if (ev.type == WatchEventType::kError) {
      const json* code = member(ev.object, "code");
      const json* message = member(ev.object, "message");
      bool gone = code && code->is_number_integer() && code->get<int64_t>() == 410;
      step.outcome = gone ? Outcome::kGone : Outcome::kFailed;
      step.error =
          "watch ERROR event: " + (message && message->is_string() ? message->get<std::string>() : ev.object.dump());
      return false;
    }
    step.progressed = true;
    healthy();
    if (auto version = detail::metadata_string(ev.object, "resourceVersion"); !version.empty()) {
      resource_version = std::move(version);
    }
    if (ev.type == WatchEventType::kBookmark) return true;
    ++stats.events;
    if (handler.event) handler.event(ev.type, ev.object);
    return true;
  };
  auto res = co_await api->watch(path, on_event);
  if (stopped) co_return step;
  if (Clock::now() - started >= kHealthyWatch) step.progressed = true;
  if (!res) co_return Step{Outcome::kFailed, res.error().message(), step.progressed};
  if (res->status == 410) co_return Step{Outcome::kGone, "watch: " + res->message(), step.progressed};
  if (res->status != 200) {
    co_return Step{Outcome::kFailed, "watch: HTTP " + std::to_string(res->status) + ": " + res->message(),
                   step.progressed};
  }
  if (step.outcome == Outcome::kOk && step.progressed) healthy();
  co_return step;
}

asio::awaitable<void> Reflector::Impl::run(std::shared_ptr<Impl> self) {
  bool need_list = true;
  while (!self->stopped) {
    bool just_listed = false;
    if (need_list) {
      Step list = co_await self->list_all();
      if (self->stopped) break;
      if (list.outcome != Outcome::kOk) {
        if (list.outcome == Outcome::kGone) ++self->stats.relists_gone;
        auto delay = self->backoff.next();
        self->failed("k8s list failed", list.error, delay);
        co_await self->sleep(delay);
        continue;
      }
      need_list = false;
      just_listed = true;
      self->backoff.reset();
    }

    Step watch = co_await self->watch_once();
    if (self->stopped) break;
    switch (watch.outcome) {
      case Outcome::kOk:
        // The server ended the watch (timeoutSeconds): resume from the last version, no relist.
        if (watch.progressed) {
          self->backoff.reset();
        } else {
          co_await self->sleep(self->backoff.next());
        }
        break;
      case Outcome::kGone:
        ++self->stats.relists_gone;
        log::info("k8s resourceVersion expired, relisting",
                  {{"reflector", self->options.name}, {"resourceVersion", self->resource_version}});
        need_list = true;
        // Gone straight after a fresh list: the server cannot serve a watch from its own list; do not spin.
        if (just_listed && !watch.progressed) co_await self->sleep(self->backoff.next());
        break;
      case Outcome::kFailed: {
        if (watch.progressed) self->backoff.reset();  // a dropped but healthy watch retries quickly
        auto delay = self->backoff.next();
        self->failed("k8s watch failed", watch.error, delay);
        co_await self->sleep(delay);
        need_list = self->resource_version.empty();
        break;
      }
    }
  }
}

Reflector::Reflector(asio::any_io_executor executor, ApiClient& api, ReflectorOptions options, ReflectorHandler handler)
    : impl_(std::make_shared<Impl>(std::move(executor), api, std::move(options), std::move(handler))) {}

Reflector::~Reflector() { stop(); }

void Reflector::start() {
  if (impl_->running || impl_->stopped) return;
  impl_->running = true;
  auto impl = impl_;
  asio::co_spawn(impl->executor, Impl::run(impl),
                 asio::bind_cancellation_slot(impl->cancel.slot(), [impl](std::exception_ptr e) {
                   impl->running = false;
                   impl->stats.connected = false;
                   // After stop(), cancellation surfaces as an operation_aborted exception: expected.
                   if (e && !impl->stopped) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       log::error("k8s reflector stopped", {{"reflector", impl->options.name}, {"error", ex.what()}});
                     }
                   }
                   // Impl owns the cancellation signal co_spawn is attached to: release it only once co_spawn
                   // has finished with it.
                   asio::post(impl->executor, [impl] {});
                 }));
}

void Reflector::stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  auto impl = impl_;
  // The signal belongs to the executor's thread; from there this runs at once.
  asio::dispatch(impl->executor, [impl] {
    if (impl->running) impl->cancel.emit(asio::cancellation_type::terminal);
  });
}

const ReflectorStats& Reflector::stats() const { return impl_->stats; }
const ReflectorOptions& Reflector::options() const { return impl_->options; }

}  // namespace podid::k8s
