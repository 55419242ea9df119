#include "http/websocket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>

#include "base/unique_fd.h"
#include "http/client.h"
#include "http/server.h"

namespace asb::http::ws {
namespace {

struct Pair {
  UniqueFd server, client;
};

Pair SocketPair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

TEST(WebSocketTest, AcceptKeyMatchesRfc6455Example) {
  EXPECT_EQ(AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketTest, AcceptUpgradeNegotiatesTheServersPreferredProtocol) {
  Request req{.method = "GET", .target = "/"};
  req.headers.Set("Connection", "keep-alive, Upgrade");
  req.headers.Set("Upgrade", "websocket");
  req.headers.Set("Sec-WebSocket-Version", "13");
  req.headers.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  req.headers.Add("Sec-WebSocket-Protocol", "v4.channel.k8s.io");
  req.headers.Add("Sec-WebSocket-Protocol", "v5.channel.k8s.io");
  auto r = AcceptUpgrade(req, {"v5.channel.k8s.io", "v4.channel.k8s.io"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 101);
  EXPECT_EQ(r->headers.GetOr("Sec-WebSocket-Protocol", ""), "v5.channel.k8s.io");
  EXPECT_EQ(r->headers.GetOr("Sec-WebSocket-Accept", ""), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

  auto none = AcceptUpgrade(req, {"channel.k8s.io"});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("subprotocol"), std::string::npos);
  req.headers.Remove("Sec-WebSocket-Key");
  EXPECT_FALSE(AcceptUpgrade(req, {}));
  Request plain{.method = "GET", .target = "/"};
  EXPECT_FALSE(AcceptUpgrade(plain, {}));
}

TEST(WebSocketTest, MessagesOfEverySizeCrossBothWays) {
  Pair p = SocketPair();
  Connection server(p.server.get(), Role::kServer);
  Connection client(p.client.get(), Role::kClient);
  for (size_t size : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536},
                      size_t{300000}}) {
    std::string data(size, 'x');
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i * 7);
    std::thread writer([&] { ASSERT_TRUE(client.WriteBinary(data)); });
    auto got = server.Read();
    writer.join();
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->opcode, Opcode::kBinary);
    EXPECT_EQ(got->data, data) << size;
    std::thread back([&] { ASSERT_TRUE(server.Write(Opcode::kText, data)); });
    auto echo = client.Read();
    back.join();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->opcode, Opcode::kText);
    EXPECT_EQ(echo->data, data);
  }
}

// Hand-built frames: a masked client message in two fragments with a ping between them.
TEST(WebSocketTest, ReassemblesFragmentsAndAnswersPings) {
  Pair p = SocketPair();
  auto masked = [](uint8_t b0, std::string_view payload) {
    std::string f;
    f.push_back(static_cast<char>(b0));
    f.push_back(static_cast<char>(0x80 | payload.size()));
    const char mask[4] = {1, 2, 3, 4};
    f.append(mask, 4);
    for (size_t i = 0; i < payload.size(); ++i) f.push_back(payload[i] ^ mask[i % 4]);
    return f;
  };
  std::string frames = masked(0x02, "hel") + masked(0x89, "pp") + masked(0x80, "lo");
  ASSERT_EQ(::send(p.client.get(), frames.data(), frames.size(), 0),
            static_cast<ssize_t>(frames.size()));
  Connection server(p.server.get(), Role::kServer);
  auto got = server.Read();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->data, "hello");
  Connection client(p.client.get(), Role::kClient);
  // The pong is skipped by Read; the next message is what follows it.
  ASSERT_TRUE(server.WriteBinary("after"));
  auto next = client.Read();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->data, "after");
}

TEST(WebSocketTest, CloseIsAnsweredAndEndsRead) {
  Pair p = SocketPair();
  Connection server(p.server.get(), Role::kServer);
  Connection client(p.client.get(), Role::kClient);
  client.Close(kCloseNormal, "bye");
  auto got = server.Read();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Code::kUnavailable);
  EXPECT_EQ(server.peer_close_code(), kCloseNormal);
  auto answer = client.Read();
  ASSERT_FALSE(answer);
  EXPECT_EQ(client.peer_close_code(), kCloseNormal);
  EXPECT_FALSE(server.WriteBinary("late"));
}

TEST(WebSocketTest, UnmaskedClientFrameIsAProtocolError) {
  Pair p = SocketPair();
  std::string frame = "\x82\x01x";
  ASSERT_EQ(::send(p.client.get(), frame.data(), frame.size(), 0), 3);
  Connection server(p.server.get(), Role::kServer);
  auto got = server.Read();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Code::kInvalidArgument);
  Connection client(p.client.get(), Role::kClient);
  EXPECT_FALSE(client.Read());
  EXPECT_EQ(client.peer_close_code(), kCloseProtocolError);
}

TEST(WebSocketTest, OversizedMessageIsRefusedWithoutReadingIt) {
  Pair p = SocketPair();
  Connection server(p.server.get(), Role::kServer, {}, 1024);
  // Header only: claims 2^40 bytes; Read must refuse before waiting for (or allocating) them.
  std::string frame = "\x82\xff";
  frame += std::string("\x00\x00\x01\x00\x00\x00\x00\x00", 8) + "mask";
  ASSERT_EQ(::send(p.client.get(), frame.data(), frame.size(), 0),
            static_cast<ssize_t>(frame.size()));
  auto got = server.Read();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Code::kInvalidArgument);
}

// The http::Server upgrade hook end to end: handshake, then an echo session on the raw socket.
TEST(WebSocketTest, ServerUpgradeHookRunsAnEchoSession) {
  auto server = Server::Start({}, [](Request& req) {
    auto r = AcceptUpgrade(req, {"echo"});
    if (!r) return Response::Text(400, r.error().message);
    r->upgrade = [](int fd, std::string pending) {
      Connection conn(fd, Role::kServer, std::move(pending));
      while (auto m = conn.Read()) {
        if (!conn.Write(m->opcode, m->data)) break;
      }
    };
    return std::move(*r);
  });
  ASSERT_TRUE(server) << server.error().message;
  auto c = Client::Connect("127.0.0.1", (*server)->port());
  ASSERT_TRUE(c);
  int fd = c->native_handle();
  Request req{.method = "GET", .target = "/ws", .headers = ClientHandshakeHeaders({"x", "echo"})};
  auto reply = SendUpgrade(fd, req);
  ASSERT_TRUE(reply) << reply.error().message;
  ASSERT_EQ(reply->status, 101);
  EXPECT_EQ(reply->headers.GetOr("Sec-WebSocket-Protocol", ""), "echo");
  EXPECT_EQ(reply->headers.GetOr("Sec-WebSocket-Accept", ""),
            AcceptKey(req.headers.GetOr("Sec-WebSocket-Key", "")));
  Connection conn(fd, Role::kClient, reply->pending);
  ASSERT_TRUE(conn.WriteBinary("ping me"));
  auto echo = conn.Read();
  ASSERT_TRUE(echo) << echo.error().message;
  EXPECT_EQ(echo->data, "ping me");

  // A refused handshake comes back as an ordinary response with its body.
  auto c2 = Client::Connect("127.0.0.1", (*server)->port());
  ASSERT_TRUE(c2);
  Request bad{.method = "GET", .target = "/ws", .headers = ClientHandshakeHeaders({"nope"})};
  auto refused = SendUpgrade(c2->native_handle(), bad);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_NE(refused->body.find("subprotocol"), std::string::npos);
  conn.Close();
  (*server)->Stop();
}

}  // namespace
}  // namespace asb::http::ws
