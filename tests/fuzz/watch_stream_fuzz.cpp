// SPDX-License-Identifier: Apache-2.0
//
// A Kubernetes watch as the agent receives it: the API server's response bytes through the HTTP client's
// streaming loop (common/http/response_reader.h read_lines: chunked or close-delimited body, lines split
// wherever the reads fall), each line through parse_watch_event (common/k8s), each event into the agent's
// stores, then identity choice over what they hold (support/agent_cluster.h). Input: ReadPlan seed, then the
// response bytes.
//
// Properties: no line over the limit is delivered; every event that parses has a known type and an object;
// identity choice keeps its contract whatever the events said.
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <string_view>

#include "agent_cluster.h"
#include "fuzz_check.h"
#include "http/response_reader.h"
#include "podid/k8s/api_client.h"
#include "scripted_stream.h"

namespace {

constexpr uint64_t kMaxLine = 64 * 1024;

// The stream to its end, each line as ApiClient::watch hands it on: blank ones skipped, the first that does not
// parse ends the watch.
boost::asio::awaitable<void> watch(podid::fuzz::ScriptedStream& stream, podid::fuzz::AgentCluster& cluster) {
  const podid::http::detail::LineFn on_line = [&cluster](std::string_view line) {
    FUZZ_CHECK(line.size() <= kMaxLine, "a line over the stream's limit was delivered");
    if (line.find_first_not_of(" \t") == std::string_view::npos) return true;
    auto event = podid::k8s::parse_watch_event(line);
    if (!event) return false;
    FUZZ_CHECK(event->object.is_object(), "a watch event without an object");
    cluster.apply(event->type, event->object);
    return true;
  };
  boost::beast::flat_buffer buffer;
  podid::http::ClientOptions options{.max_body_bytes = kMaxLine};
  const podid::http::detail::ReadContext context{options, "GET https://api/watch", std::chrono::steady_clock::now()};
  (void)co_await podid::http::detail::read_lines(stream, buffer, context, on_line);
}

}  // namespace

// Named functions only, no lambda here: GCC 12 gives two closures in an extern "C" function the same symbol.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static boost::asio::io_context io;
  auto input = podid::fuzz::stream_input(data, size);
  if (!input) return 0;
  podid::fuzz::ScriptedStream stream(io.get_executor(), input->bytes, input->plan);
  podid::fuzz::AgentCluster cluster;
  podid::fuzz::run_to_end(io, watch(stream, cluster));
  cluster.check_selection();
  return 0;
}
