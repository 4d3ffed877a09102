// SPDX-License-Identifier: Apache-2.0
//
// The HTTP server against hostile bytes, through a real socket: every request here was found by an attacker
// in a pod or is what RFC 9112 says a server must refuse. The server runs on its own thread; the test is a
// blocking client that writes raw bytes and reads what comes back.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http/request_framing.h"
#include "podid/http/server.h"
#include "server_fixture.h"

namespace podid::http {
namespace {

using test_server::expect_still_serving;
using test_server::RawClient;
using test_server::ServerUnderTest;
using test_server::status_line;

std::string chunked_get_with_trailer(size_t trailer_value_bytes) {
  return "GET /metadata/identity/oauth2/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         "0\r\nX-Pad: " + std::string(trailer_value_bytes, 'a') + "\r\n\r\n";
}

bool saw(const std::vector<std::string>& reasons, std::string_view reason) {
  return std::find(reasons.begin(), reasons.end(), reason) != reasons.end();
}

TEST(HttpServer, TrailerOfSixtyFourKibIsRefusedAndTheServerLives) {
  // Beast throws std::length_error for a field value over 65,533 bytes; it used to leave io_context::run()
  // and abort the agent. Now the read buffer ends the trailer long before that.
  ServerUnderTest server;
  for (size_t size : {65535u, 65000u, 20000u}) {
    RawClient client(server.port());
    client.send(chunked_get_with_trailer(size));
    EXPECT_EQ(status_line(client.read_to_close()), "HTTP/1.1 400 Bad Request") << size;
  }
  expect_still_serving(server.port());
  EXPECT_TRUE(saw(server.reasons(), "framing_too_large"));
}

TEST(HttpServer, SmallTrailerFieldsAreRefusedNotMergedIntoTheHeader) {
  ServerUnderTest server;
  RawClient client(server.port());
  client.send("GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nMetadata: true\r\n\r\n");
  EXPECT_EQ(status_line(client.read_to_close()), "HTTP/1.1 400 Bad Request");
  EXPECT_TRUE(saw(server.reasons(), "trailer_fields"));
  EXPECT_TRUE(server.targets().empty());
}

TEST(HttpServer, ChunkedBodyWithoutTrailerIsServed) {
  ServerUnderTest server;
  RawClient client(server.port());
  client.send("GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
              "3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(status_line(client.read_to_close()), "HTTP/1.1 200 OK");
}

TEST(HttpServer, HugeChunkExtensionIsRefusedWithoutBeingHeld) {
  // A 32 MiB extension used to be buffered whole (and answered 200). The server now stops reading at
  // kMaxReadBuffer and answers; the client's remaining bytes meet a closed socket.
  ServerUnderTest server;
  RawClient client(server.port());
  std::string head = "GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=";
  client.send(head);
  std::string pad(64 * 1024, 'e');
  size_t sent = 0;
  while (sent < 32u * 1024 * 1024 && client.send(pad)) sent += pad.size();
  EXPECT_LT(sent, 32u * 1024 * 1024) << "the server read a 32 MiB chunk extension to its end";
  expect_still_serving(server.port());
  EXPECT_TRUE(saw(server.reasons(), "framing_too_large"));
}

TEST(HttpServer, TransferEncodingOtherThanLoneChunkedIsRefusedAndClosed) {
  ServerUnderTest server;
  for (std::string te : {"gzip", "identity", "xchunked", "chunked, gzip", "gzip, chunked", "chunked, chunked",
                         "chunked;q=1"}) {
    RawClient client(server.port());
    // Keep-alive request followed by a second one that must never be read as a request.
    client.send("GET /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te +
                "\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string response = client.read_to_close();
    EXPECT_EQ(status_line(response), "HTTP/1.1 400 Bad Request") << te;
    EXPECT_EQ(response.find("HTTP/1.1", 5), std::string::npos) << "a second answer for: " << te;
  }
  EXPECT_TRUE(server.targets().empty());
  EXPECT_TRUE(saw(server.reasons(), "bad_transfer_encoding"));
}

TEST(HttpServer, TransferEncodingWithContentLengthIsRefused) {
  ServerUnderTest server;
  RawClient client(server.port());
  client.send("GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(status_line(client.read_to_close()), "HTTP/1.1 400 Bad Request");
  EXPECT_TRUE(server.targets().empty());
}

TEST(HttpServer, HostMustBeThereOnceOnHttp11) {
  ServerUnderTest server;
  {
    RawClient client(server.port());
    client.send("GET /a HTTP/1.1\r\n\r\n");
    EXPECT_EQ(status_line(client.read_to_close()), "HTTP/1.1 400 Bad Request");
  }
  {
    RawClient client(server.port());
    client.send("GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    EXPECT_EQ(status_line(client.read_to_close()), "HTTP/1.1 400 Bad Request");
  }
  {
    RawClient client(server.port());  // HTTP/1.0 needs none
    client.send("GET /a HTTP/1.0\r\n\r\n");
    EXPECT_EQ(status_line(client.read_to_close()), "HTTP/1.0 200 OK");
  }
  EXPECT_EQ(server.targets(), std::vector<std::string>{"/a"});
  EXPECT_TRUE(saw(server.reasons(), "bad_host"));
}

TEST(HttpServer, AbsoluteFormTargetReachesTheHandlerInOriginForm) {
  ServerUnderTest server;
  RawClient client(server.port());
  client.send("GET http://169.254.169.254/metadata/identity/oauth2/token?resource=x HTTP/1.1\r\nHost: y\r\n\r\n");
  std::string response = client.read_until("?resource=x");
  EXPECT_EQ(status_line(response), "HTTP/1.1 200 OK");
  EXPECT_EQ(server.targets(), std::vector<std::string>{"/metadata/identity/oauth2/token?resource=x"});
}

TEST(HttpServer, OversizedHeaderGets431) {
  ServerUnderTest server;
  RawClient client(server.port());
  client.send("GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'b') + "\r\n\r\n");
  EXPECT_EQ(status_line(client.read_to_close()), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_TRUE(saw(server.reasons(), "header_too_large"));
}

TEST(HttpServer, OversizedBodyGets413) {
  ServerUnderTest server;
  RawClient client(server.port());
  client.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  EXPECT_EQ(status_line(client.read_to_close()), "HTTP/1.1 413 Payload Too Large");
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  ServerUnderTest server;
  RawClient client(server.port());
  client.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string both = client.read_to_close();
  EXPECT_NE(both.find("ok:/1"), std::string::npos);
  EXPECT_NE(both.find("ok:/2"), std::string::npos);
  EXPECT_LT(both.find("ok:/1"), both.find("ok:/2"));
}

TEST(HttpServer, HandlerThatThrowsEndsItsConnectionOnly) {
  ServerUnderTest server([](tcp::socket&) -> Admission {
    return sync_handler([](const Request& req) -> Response {
      if (req.target() == "/throw") throw std::runtime_error("handler bug");
      if (req.target() == "/throw-int") throw 42;
      return text_response(req, Status::ok, "fine", "text/plain");
    });
  });
  for (const char* target : {"/throw", "/throw-int"}) {
    RawClient client(server.port());
    client.send(std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(client.closed_by_server()) << target;
  }
  expect_still_serving(server.port());
  auto reasons = server.reasons();
  EXPECT_EQ(std::count(reasons.begin(), reasons.end(), "session_exception"), 2);
}

TEST(HttpServer, AdmissionThatThrowsDropsTheConnectionOnly) {
  bool first = true;
  ServerUnderTest server([&first](tcp::socket&) -> Admission {
    if (first) {
      first = false;
      throw std::runtime_error("admission bug");
    }
    return sync_handler([](const Request& req) { return text_response(req, Status::ok, "fine", "text/plain"); });
  });
  {
    RawClient client(server.port());
    EXPECT_TRUE(client.closed_by_server());
  }
  expect_still_serving(server.port());
  EXPECT_TRUE(saw(server.reasons(), "admission_exception"));
}

TEST(HttpServer, AnswerAndCloseWritesWithoutReading) {
  ServerUnderTest server([](tcp::socket&) -> Admission {
    Request req;
    req.version(11);
    return AnswerAndClose{json_response(req, Status::too_many_requests, "{}")};
  });
  RawClient client(server.port());  // sends nothing
  EXPECT_EQ(status_line(client.read_to_close()), "HTTP/1.1 429 Too Many Requests");
}

TEST(HttpServer, DropClosesAtOnce) {
  ServerUnderTest server([](tcp::socket&) -> Admission { return Drop{}; });
  RawClient client(server.port());
  EXPECT_TRUE(client.closed_by_server());
}

TEST(RequestFraming, OriginForm) {
  using detail::origin_form;
  EXPECT_EQ(origin_form("/metadata/x?y"), "/metadata/x?y");
  EXPECT_EQ(origin_form("http://169.254.169.254/metadata/x?y"), "/metadata/x?y");
  EXPECT_EQ(origin_form("HTTP://h:80/a"), "/a");
  EXPECT_EQ(origin_form("https://h/a"), "/a");
  EXPECT_EQ(origin_form("http://h?q=1"), "/?q=1");
  EXPECT_EQ(origin_form("http://h"), "/");
  EXPECT_EQ(origin_form("*"), "*");
  EXPECT_EQ(origin_form("httpx://h/a"), "httpx://h/a");
}

TEST(RequestFraming, ChecksTheHeaderAlone) {
  using detail::check_request_framing;
  auto make = [](unsigned version, std::vector<std::pair<std::string, std::string>> fields) {
    Request req;
    req.version(version);
    for (auto& [k, v] : fields) req.insert(k, v);
    return req;
  };
  EXPECT_FALSE(check_request_framing(make(11, {{"Host", "x"}})));
  EXPECT_FALSE(check_request_framing(make(11, {{"Host", "x"}, {"Transfer-Encoding", "Chunked"}})));
  EXPECT_FALSE(check_request_framing(make(11, {{"Host", "x"}, {"Transfer-Encoding", " chunked , "}})));
  EXPECT_FALSE(check_request_framing(make(10, {})));
  EXPECT_EQ(check_request_framing(make(11, {}))->reason, "bad_host");
  EXPECT_EQ(check_request_framing(make(10, {{"Host", "a"}, {"Host", "b"}}))->reason, "bad_host");
  EXPECT_EQ(check_request_framing(make(10, {{"Transfer-Encoding", "chunked"}}))->reason, "bad_transfer_encoding");
  EXPECT_EQ(check_request_framing(make(11, {{"Host", "x"}, {"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}))
                ->reason,
            "bad_transfer_encoding");
  EXPECT_EQ(check_request_framing(make(11, {{"Host", "x"}, {"Transfer-Encoding", ""}}))->reason,
            "bad_transfer_encoding");
  EXPECT_EQ(check_request_framing(make(11, {{"Host", "x"}, {"Content-Length", "0"}, {"Transfer-Encoding", "chunked"}}))
                ->reason,
            "transfer_encoding_with_content_length");
}

}  // namespace
}  // namespace podid::http
