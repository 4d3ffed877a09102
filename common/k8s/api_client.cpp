// SPDX-License-Identifier: Apache-2.0
//
// After its first co_await, a coroutine here touches nothing of `this`: a Reflector that was stopped may
// resume inside one of them after the ApiClient is gone (see http/client.cpp for the same rule below us).
#include "podid/k8s/api_client.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "podid/log.h"
#include "podid/read_file.h"
#include "podid/error.h"

namespace podid::k8s {
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using nlohmann::json;

namespace {

constexpr std::chrono::seconds kRequestTimeout{60};
constexpr uint64_t kMaxResponseBytes = 64 * 1024 * 1024;  // a 500-item page of large objects
// A watch is legitimately silent until the next event or bookmark; TCP keepalive (http::Client) notices a
// dead peer sooner. Longer than the Reflector's default timeoutSeconds, so a quiet watch ends cleanly.
constexpr std::chrono::minutes kWatchSilence{10};
constexpr uint64_t kMaxEventBytes = 16 * 1024 * 1024;
constexpr size_t kMaxQuotedBody = 512;

Error bad_message(std::string context) {
  return malformed(std::move(context));
}

// The API server's answer: JSON when it can be parsed. A 2xx that is not JSON is an error; an error status
// with a non-JSON body (a proxy's HTML page) keeps the start of that text for message().
Result<ApiResponse> to_api_response(const http::Response& res, const std::string& what) {
  ApiResponse out;
  out.status = res.result_int();
  if (res.body().empty()) return out;
  out.body = json::parse(res.body(), nullptr, false);
  if (!out.body.is_discarded()) return out;
  if (out.ok()) return bad_message(what + ": HTTP " + std::to_string(out.status) + " with a body that is not JSON");
  out.body = res.body().substr(0, kMaxQuotedBody);
  return out;
}

std::string target_for(const http::Url& server, const std::string& path) {
  // A server URL with a path (a proxy in front of the API) prefixes every request.
  std::string prefix = server.target;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return prefix + (path.empty() || path.front() != '/' ? "/" + path : path);
}

}  // namespace

std::string ApiResponse::message() const {
  if (body.is_object()) {
    auto kind = body.find("kind");
    auto msg = body.find("message");
    if (kind != body.end() && kind->is_string() && *kind == "Status" && msg != body.end() && msg->is_string()) {
      return msg->get<std::string>();
    }
  }
  if (body.is_string()) return "HTTP " + std::to_string(status) + ": " + body.get<std::string>();
  return "HTTP " + std::to_string(status);
}

Result<WatchEvent> parse_watch_event(std::string_view line) {
  json j = json::parse(line, nullptr, false);
  auto quoted = [&] { return std::string(line.substr(0, 200)); };
  if (j.is_discarded() || !j.is_object()) return bad_message("watch event is not a JSON object: " + quoted());
  auto type = j.find("type");
  auto object = j.find("object");
  if (type == j.end() || !type->is_string()) return bad_message("watch event without a type: " + quoted());
  if (object == j.end() || !object->is_object()) return bad_message("watch event without an object: " + quoted());
  static const std::pair<const char*, WatchEventType> kTypes[] = {
      {"ADDED", WatchEventType::kAdded},     {"MODIFIED", WatchEventType::kModified},
      {"DELETED", WatchEventType::kDeleted}, {"BOOKMARK", WatchEventType::kBookmark},
      {"ERROR", WatchEventType::kError},
  };
  const auto& name = type->get_ref<const std::string&>();
  for (const auto& [text, value] : kTypes) {
    if (name == text) return WatchEvent{value, std::move(*object)};
  }
  return bad_message("watch event of unknown type \"" + name + "\"");
}

Result<json> parse_list_page(std::string_view body, const std::function<void(json&& item)>& on_item) {
  // The parser's depth: 1 for the list's own members, 2 for the elements of its arrays.
  std::string member;     // the top-level key last read
  bool in_items = false;  // between the '[' and ']' of the top-level "items"
  int items_keys = 0;     // a second "items" would hand out objects the whole-tree reading drops
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::key:
        if (depth == 1) member = parsed.get<std::string>();
        if (depth == 1 && member == "items") ++items_keys;
        return true;
      case json::parse_event_t::array_start:
        if (depth == 1 && member == "items") in_items = true;
        return true;
      case json::parse_event_t::array_end:
        if (depth == 1) in_items = false;
        return true;
      case json::parse_event_t::object_end:
        if (!in_items || depth != 2) return true;
        on_item(std::move(parsed));
        return false;  // the parser drops it: the page keeps none of its items
      default:
        return true;
    }
  };
  json rest = json::parse(body, callback, false);
  if (rest.is_discarded() || !rest.is_object()) return bad_message("list page is not a JSON object");
  if (items_keys > 1) return bad_message("list page: items given more than once");
  if (auto items = rest.find("items"); items != rest.end() && !items->is_null()) {
    if (!items->is_array()) return bad_message("list page: items is not a list");
    if (!items->empty()) return bad_message("list page: items holds something other than objects");
    rest.erase(items);
  }
  return rest;
}

ApiClient::ApiClient(asio::any_io_executor executor, ClusterConfig config, std::string user_agent)
    : config_(std::move(config)) {
  http_ = std::make_unique<http::Client>(executor, http::ClientOptions{.timeout = kRequestTimeout,
                                                                       .max_body_bytes = kMaxResponseBytes,
                                                                       .tls = config_.tls,
                                                                       .user_agent = user_agent});
  stream_http_ = std::make_unique<http::Client>(
      executor,
      http::ClientOptions{
          .timeout = kWatchSilence, .max_body_bytes = kMaxEventBytes, .tls = config_.tls, .user_agent = user_agent});
}

ApiClient::~ApiClient() = default;

std::string ApiClient::bearer_token() {
  if (config_.token_file.empty()) return config_.bearer_token;
  std::error_code ec;
  auto mtime = std::filesystem::last_write_time(config_.token_file, ec);
  if (!ec && !cached_token_.empty() && mtime == token_mtime_) return cached_token_;
  auto text = ec ? Result<std::string>(Error{ec, "stat " + config_.token_file.string()})
                 : read_file(config_.token_file);
  if (text) {
    cached_token_ = trim(std::move(text.value()));
    token_mtime_ = mtime;
    token_read_failed_ = false;
  } else if (!token_read_failed_) {
    // Keep using the token we had: it may still be valid, and the API server will say if it is not.
    log::warn("k8s token file unreadable", {{"path", config_.token_file.string()}, {"error", text.error().message()}});
    token_read_failed_ = true;
  }
  return cached_token_.empty() ? config_.bearer_token : cached_token_;
}

http::Request ApiClient::authorized_request(bhttp::verb method) {
  http::Request req{method, "/", 11};
  req.set(bhttp::field::accept, "application/json");
  if (std::string token = bearer_token(); !token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
  return req;
}

asio::awaitable<Result<ApiResponse>> ApiClient::get(std::string path) {
  return request(bhttp::verb::get, std::move(path), nullptr);
}

asio::awaitable<Result<ApiResponse>> ApiClient::list_page(std::string path, std::function<void(json&& item)> on_item) {
  http::Request req = authorized_request(bhttp::verb::get);
  auto res = co_await http_->send(config_.server.with_target(target_for(config_.server, path)), std::move(req));
  if (!res) co_return res.error();
  if (res->result_int() < 200 || res->result_int() >= 300) co_return to_api_response(res.value(), "list " + path);
  auto rest = parse_list_page(res->body(), on_item);
  if (!rest) co_return rest.error().wrap("list " + path);
  co_return ApiResponse{res->result_int(), std::move(rest.value())};
}

asio::awaitable<Result<ApiResponse>> ApiClient::request(bhttp::verb method, std::string path, json body,
                                                        std::string content_type) {
  http::Request req = authorized_request(method);
  if (!body.is_null()) {
    req.set(bhttp::field::content_type, content_type);
    req.body() = body.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  std::string what = std::string(bhttp::to_string(method)) + " " + path;
  auto res = co_await http_->send(config_.server.with_target(target_for(config_.server, path)), std::move(req));
  if (!res) co_return res.error();
  co_return to_api_response(res.value(), what);
}

asio::awaitable<Result<ApiResponse>> ApiClient::watch(std::string path,
                                                      std::function<bool(const WatchEvent&)> on_event) {
  http::Request req = authorized_request(bhttp::verb::get);
  std::optional<Error> bad_line;
  // The lambda lives in stream_lines' frame, which ends before ours: references to our locals are safe.
  auto on_line = [&bad_line, &on_event](std::string_view line) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) return true;  // blank: nothing to parse
    auto event = parse_watch_event(line);
    if (!event) {
      bad_line = event.error();
      return false;
    }
    return on_event(event.value());
  };
  auto res = co_await stream_http_->stream_lines(config_.server.with_target(target_for(config_.server, path)),
                                                 std::move(req), on_line);
  if (!res) co_return res.error();
  if (bad_line) co_return bad_line->wrap("watch " + path);
  if (res->result() != http::Status::ok) co_return to_api_response(res.value(), "watch " + path);
  co_return ApiResponse{200, nullptr};
}

}  // namespace podid::k8s
