// SPDX-License-Identifier: Apache-2.0
//
// A thin Kubernetes REST client: JSON in, JSON out, over http::Client, with the bearer token (re-read from
// token_file when it changes) and the cluster's CA.
//
// Errors: Result errors are transport failures and unparsable bodies only. An HTTP status (404, 409, 410,
// 403 ...) is returned in ApiResponse for the caller to judge; `body` then holds the API's Status object.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "podid/http/client.h"
#include "podid/k8s/cluster_config.h"
#include "podid/result.h"

namespace podid::k8s {

struct ApiResponse {
  unsigned status = 0;
  nlohmann::json body;  // parsed JSON; null if the body was empty
  bool ok() const { return status >= 200 && status < 300; }
  // Status.message if the body is a Status object, else a short description.
  std::string message() const;
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

struct WatchEvent {
  WatchEventType type;
  nlohmann::json object;  // the object (for kError: the Status)
};

class ApiClient {
 public:
  ApiClient(boost::asio::any_io_executor executor, ClusterConfig config, std::string user_agent);
  ~ApiClient();

  // `path` includes the query, e.g. "/api/v1/namespaces/default/pods?labelSelector=a%3Db".
  boost::asio::awaitable<Result<ApiResponse>> get(std::string path);
  // One page of a list (`path` carries limit= and continue=), parsed as it is read: each element of `items` goes
  // to on_item as soon as it is parsed and is then dropped, so a page is never held as one tree. The returned
  // body is the list without its items (metadata: resourceVersion, continue). A non-2xx answer is returned as by
  // get(), without calling on_item. On an error, on_item may have been called for the items before it.
  boost::asio::awaitable<Result<ApiResponse>> list_page(std::string path,
                                                        std::function<void(nlohmann::json&& item)> on_item);
  // POST / PUT / PATCH / DELETE with a JSON body (null: no body); content_type for PATCH flavours.
  boost::asio::awaitable<Result<ApiResponse>> request(boost::beast::http::verb method, std::string path,
                                                      nlohmann::json body,
                                                      std::string content_type = "application/json");

  // A watch: GET `path` (which must carry watch=1 and resourceVersion=...) and call on_event for each event
  // line until the server closes the stream (success), on_event returns false (success), or an error. A non-200
  // answer is returned as ApiResponse with its Status body; a 200 stream's end returns status 200.
  boost::asio::awaitable<Result<ApiResponse>> watch(std::string path,
                                                    std::function<bool(const WatchEvent&)> on_event);

  const ClusterConfig& config() const { return config_; }

 private:
  std::string bearer_token();
  http::Request authorized_request(boost::beast::http::verb method);  // Accept JSON, the bearer token
  ClusterConfig config_;
  std::unique_ptr<http::Client> http_;
  std::unique_ptr<http::Client> stream_http_;  // longer timeout: a watch may be silent between bookmarks
  std::string cached_token_;
  std::filesystem::file_time_type token_mtime_{};
  bool token_read_failed_ = false;  // log a failing token file once, not on every request
};

// One line of a watch stream, {"type":"ADDED","object":{...}}; EBADMSG naming what is wrong otherwise.
Result<WatchEvent> parse_watch_event(std::string_view line);

// The body of one list page, handing each element of the top-level `items` to on_item as soon as its closing
// brace is read; returns the rest of the list. EBADMSG when the body is not a JSON object or `items` holds
// something other than objects.
Result<nlohmann::json> parse_list_page(std::string_view body,
                                       const std::function<void(nlohmann::json&& item)>& on_item);

}  // namespace podid::k8s
