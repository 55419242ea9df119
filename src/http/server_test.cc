#include "http/server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include "http/client.h"

namespace asb::http {
namespace {

TEST(ServerTest, ServesKeepAliveRequestsAndQuery) {
  auto server = Server::Start({}, [](Request& req) {
    return Response::Json(200, {{"path", req.path}, {"q", req.Query("x").value_or("")}});
  });
  ASSERT_TRUE(server) << server.error().message;
  ASSERT_NE((*server)->port(), 0);
  auto client = Client::Connect("127.0.0.1", (*server)->port());
  ASSERT_TRUE(client);
  for (int i = 0; i < 3; ++i) {
    Request req{.method = "GET", .target = "/a%20b?x=1%2B1"};
    auto resp = client->Do(req);
    ASSERT_TRUE(resp) << resp.error().message;
    EXPECT_EQ(resp->status, 200);
    auto j = ParseJson(resp->body);
    ASSERT_TRUE(j);
    EXPECT_EQ((*j)["path"], "/a b");
    EXPECT_EQ((*j)["q"], "1+1");
  }
}

TEST(ServerTest, TooLargeBodyGets413) {
  ServerOptions opts;
  opts.max_body_bytes = 10;
  auto server = Server::Start(opts, [](Request&) { return Response::Text(200, "ok"); });
  ASSERT_TRUE(server);
  Request req{.method = "POST", .target = "/", .body = std::string(100, 'x')};
  auto resp = Fetch("127.0.0.1", (*server)->port(), req);
  ASSERT_TRUE(resp) << resp.error().message;
  EXPECT_EQ(resp->status, 413);
  EXPECT_EQ(ParseJson(resp->body).value(),
            Json({{"detail", "Request entity too large: limit is 10"}}));
}

// The server's own errors are rendered by the protocol's renderer, with the table's status.
Response TestRenderer(const Error& e) {
  return Response::Json(HttpStatusFor(e), {{"reason", HttpErrorFor(e).reason}, {"m", e.message}});
}

TEST(ServerTest, OwnErrorsGoThroughTheConfiguredRenderer) {
  ServerOptions opts;
  opts.max_body_bytes = 10;
  opts.render_error = TestRenderer;
  auto server = Server::Start(opts, [](Request& r) -> Response {
    if (r.path == "/throw") throw std::runtime_error("boom");
    return Response::Text(200, "ok");
  });
  ASSERT_TRUE(server);
  auto big = Fetch("127.0.0.1", (*server)->port(),
                   {.method = "POST", .target = "/", .body = std::string(100, 'x')});
  ASSERT_TRUE(big) << big.error().message;
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(ParseJson(big->body).value()["reason"], "RequestEntityTooLarge");
  auto threw = Fetch("127.0.0.1", (*server)->port(), {.method = "GET", .target = "/throw"});
  ASSERT_TRUE(threw) << threw.error().message;
  EXPECT_EQ(threw->status, 500);
  EXPECT_EQ(ParseJson(threw->body).value(), Json({{"reason", "InternalError"}, {"m", "boom"}}));
}

TEST(ServerTest, StreamsChunksAndStopEndsStreams) {
  auto server = Server::Start({}, [](Request&) {
    Response r;
    r.stream = [](ResponseStream& s) {
      s.Write("one\n");
      s.Write("two\n");
    };
    return r;
  });
  ASSERT_TRUE(server);
  auto client = Client::Connect("127.0.0.1", (*server)->port());
  ASSERT_TRUE(client);
  std::string got;
  auto resp = client->Stream({.method = "GET", .target = "/"}, [&](std::string_view d) {
    got += d;
    return true;
  });
  ASSERT_TRUE(resp) << resp.error().message;
  EXPECT_EQ(got, "one\ntwo\n");
  (*server)->Stop();
  EXPECT_FALSE(Client::Connect("127.0.0.1", (*server)->port()).has_value());
}

TEST(ServerTest, HandlerExceptionBecomes500) {
  auto server = Server::Start({}, [](Request&) -> Response { throw std::runtime_error("boom"); });
  ASSERT_TRUE(server);
  auto resp = Fetch("127.0.0.1", (*server)->port(), {.method = "GET", .target = "/"});
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 500);
  EXPECT_EQ(ParseJson(resp->body).value(), Json({{"detail", "boom"}}));
}

}  // namespace
}  // namespace asb::http

namespace asb::http {
namespace {

TEST(ServerTest, IdleKeepAliveConnectionIsClosed) {
  ServerOptions opts;
  opts.idle_timeout_ms = 100;
  auto server = Server::Start(opts, [](Request&) { return Response::Text(200, "ok"); });
  ASSERT_TRUE(server);
  auto client = Client::Connect("127.0.0.1", (*server)->port());
  ASSERT_TRUE(client);
  auto first = client->Do({.method = "GET", .target = "/"});
  ASSERT_TRUE(first);
  // The server must hang up on its own; poll (bounded) for the EOF.
  pollfd p{client->native_handle(), POLLIN | POLLRDHUP, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "idle connection was not closed within 5 s";
  char byte;
  EXPECT_EQ(::recv(client->native_handle(), &byte, 1, 0), 0);
}

}  // namespace
}  // namespace asb::http
