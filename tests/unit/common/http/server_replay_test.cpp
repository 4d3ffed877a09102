// SPDX-License-Identifier: Apache-2.0
//
// Replay (podid/http/server.h): the server gives an answer again, without its handler, only to a byte-identical
// request on the same connection, and only while the handler's Replay says the answer holds. Through a real
// socket, with a handler that counts its calls and offers a replay for every answer.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "podid/http/server.h"
#include "server_fixture.h"

namespace podid::http {
namespace {

using test_server::RawClient;
using test_server::ServerUnderTest;
using test_server::status_line;

// What the test controls and observes, shared with the server's thread.
struct Observed {
  std::atomic<int> handled{0};
  std::atomic<int> replayed{0};
  std::atomic<bool> holds{true};
};

class CountingReplay final : public Replay {
 public:
  explicit CountingReplay(Observed& o) : o_(o) {}
  bool current() const override { return o_.holds.load(); }
  void replayed(std::chrono::nanoseconds) override { ++o_.replayed; }

 private:
  Observed& o_;
};

// Answers "<target> #<call>", so an answer given again by the server is told apart from a new one.
ConnectionHandler replaying_handler(Observed& o) {
  return [&o](tcp::socket&) -> Admission {
    return ReplayingHandler([&o](const Request& req) -> boost::asio::awaitable<Answer> {
      int call = ++o.handled;
      Answer answer{text_response(req, Status::ok, std::string(req.target()) + " #" + std::to_string(call),
                                  "text/plain"),
                    std::make_shared<CountingReplay>(o)};
      co_return answer;
    });
  };
}

const std::string kTokenRequest =
    "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=x HTTP/1.1\r\nHost: 169.254.169.254\r\n"
    "Metadata: true\r\n\r\n";

// A server whose handler offers a replay for every answer, and what it observed.
class HttpServerReplay : public ::testing::Test {
 protected:
  Observed o;
  ServerUnderTest server{replaying_handler(o)};
};

std::string get(std::string_view target) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata: true\r\n\r\n";
}

TEST_F(HttpServerReplay, TheSameRequestOnTheSameConnectionIsAnsweredAgainWithoutTheHandler) {
  RawClient client(server.port());
  ASSERT_TRUE(client.send(kTokenRequest));
  std::string first = client.read_response();
  ASSERT_TRUE(client.send(kTokenRequest));
  std::string second = client.read_response();
  EXPECT_EQ(status_line(first), "HTTP/1.1 200 OK");
  EXPECT_NE(first.find(" #1"), std::string::npos) << first;
  EXPECT_EQ(second, first);  // byte for byte: the handler's answer, not a new one
  EXPECT_EQ(o.handled.load(), 1);
  EXPECT_EQ(o.replayed.load(), 1);
}

TEST_F(HttpServerReplay, ADifferentRequestGoesToTheHandler) {
  RawClient client(server.port());
  for (const char* target : {"/a", "/b", "/a"}) {
    ASSERT_TRUE(client.send(get(target)));
    std::string answer = client.read_response();
    EXPECT_NE(answer.find(std::string(target) + " #"), std::string::npos) << answer;
  }
  EXPECT_EQ(o.handled.load(), 3);  // each answer replaces the one before: /a is not remembered past /b
  EXPECT_EQ(o.replayed.load(), 0);
}

TEST_F(HttpServerReplay, AHeaderThatDiffersByOneByteGoesToTheHandler) {
  RawClient client(server.port());
  std::string other = kTokenRequest;
  other.replace(other.find("Metadata: true"), 14, "Metadata: True");
  ASSERT_TRUE(client.send(kTokenRequest));
  client.read_response();
  ASSERT_TRUE(client.send(other));
  EXPECT_NE(client.read_response().find(" #2"), std::string::npos);
  EXPECT_EQ(o.handled.load(), 2);
}

TEST_F(HttpServerReplay, AnAnswerThatNoLongerHoldsIsDecidedAgain) {
  RawClient client(server.port());
  ASSERT_TRUE(client.send(kTokenRequest));
  client.read_response();
  o.holds = false;
  ASSERT_TRUE(client.send(kTokenRequest));
  EXPECT_NE(client.read_response().find(" #2"), std::string::npos);
  EXPECT_EQ(o.handled.load(), 2);
  EXPECT_EQ(o.replayed.load(), 0);
}

TEST_F(HttpServerReplay, AnswersAreNeverReplayedAcrossConnections) {
  RawClient first(server.port());
  RawClient second(server.port());
  ASSERT_TRUE(first.send(kTokenRequest));
  first.read_response();
  ASSERT_TRUE(second.send(kTokenRequest));
  EXPECT_NE(second.read_response().find(" #2"), std::string::npos);
  EXPECT_EQ(o.handled.load(), 2);
  EXPECT_EQ(o.replayed.load(), 0);
}

TEST_F(HttpServerReplay, ARequestArrivingInPiecesIsStillReplayed) {
  RawClient client(server.port());
  ASSERT_TRUE(client.send(kTokenRequest));
  std::string first = client.read_response();
  for (size_t at = 0; at < kTokenRequest.size(); at += 7) {
    ASSERT_TRUE(client.send(std::string_view(kTokenRequest).substr(at, 7)));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(client.read_response(), first);
  EXPECT_EQ(o.handled.load(), 1);
  EXPECT_EQ(o.replayed.load(), 1);
}

TEST_F(HttpServerReplay, PipelinedIdenticalRequestsAreEachAnswered) {
  RawClient client(server.port());
  ASSERT_TRUE(client.send(kTokenRequest + kTokenRequest + kTokenRequest + get("/last")));
  std::string first = client.read_response();
  EXPECT_EQ(client.read_response(), first);
  EXPECT_EQ(client.read_response(), first);
  EXPECT_NE(client.read_response().find("/last #2"), std::string::npos);
  EXPECT_EQ(o.handled.load(), 2);  // the first token request and /last
  EXPECT_EQ(o.replayed.load(), 2);
}

// As without a replay: part of a request, then the end of the stream, is answered 400 and closed.
TEST_F(HttpServerReplay, APrefixOfTheRequestThenEndOfStreamIsRefusedAsTruncated) {
  RawClient client(server.port());
  ASSERT_TRUE(client.send(kTokenRequest));
  client.read_response();
  ASSERT_TRUE(client.send(kTokenRequest.substr(0, kTokenRequest.size() - 3)));
  client.shutdown_write();
  EXPECT_EQ(status_line(client.read_to_close()), "HTTP/1.1 400 Bad Request");  // a hang would read nothing
  EXPECT_EQ(o.handled.load(), 1);
  EXPECT_EQ(o.replayed.load(), 0);
}

TEST_F(HttpServerReplay, AnAnswerThatClosesTheConnectionIsNotKept) {
  RawClient client(server.port());
  std::string closing = kTokenRequest;
  closing.insert(closing.size() - 2, "Connection: close\r\n");
  ASSERT_TRUE(client.send(closing));
  EXPECT_EQ(status_line(client.read_to_close()), "HTTP/1.1 200 OK");
  EXPECT_EQ(o.handled.load(), 1);
}

}  // namespace
}  // namespace podid::http
