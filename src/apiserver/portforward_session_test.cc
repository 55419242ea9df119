// PortForwardSession over a socketpair, driven by hand-built SPDY frames (the client side of
// client-go's portforward protocol), forwarding to a real loopback TCP echo server.
#include "apiserver/portforward_session.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "http/spdy.h"

namespace asb::apiserver {
namespace {

namespace spdy = http::spdy;

// A one-connection-at-a-time echo server on 127.0.0.1.
class EchoServer {
 public:
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] {
      while (true) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(c, buf, sizeof(buf), 0)) > 0) (void)!::send(c, buf, n, MSG_NOSIGNAL);
        ::close(c);  // EOF after the client's half-close
      }
    });
  }
  ~EchoServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

Result<UniqueFd> Dial(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return MakeError(Code::kUnavailable, "connection refused");
  }
  return UniqueFd(fd);
}

class PortForwardSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    client_.Reset(sv[0]);
    server_.Reset(sv[1]);
    transport_ = std::make_unique<SocketTransport>(server_.get(), "");
    session_ = std::make_unique<PortForwardSession>(*transport_, Dial, "default/p");
    runner_ = std::thread([this] {
      session_->Run();
      ::shutdown(server_.get(), SHUT_RDWR);  // what http::Server does after the upgrade ends
    });
  }
  void TearDown() override {
    ::shutdown(client_.get(), SHUT_RDWR);
    runner_.join();
  }
  void Send(const std::string& bytes) {
    ASSERT_EQ(::send(client_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  void Open(uint32_t id, const std::string& type, const std::string& port,
            const std::string& request) {
    spdy::HeaderBlock h = {{"streamtype", type}, {"port", port}};
    if (!request.empty()) h.push_back({"requestid", request});
    auto f = spdy::EncodeSynStream(enc_, id, h);
    ASSERT_TRUE(f);
    Send(*f);
  }
  // The next frame from the server (blocking).
  spdy::Frame Next() {
    while (true) {
      auto f = parser_.Next();
      EXPECT_TRUE(f);
      if (f && f->has_value()) return std::move(**f);
      char buf[65536];
      ssize_t n = ::recv(client_.get(), buf, sizeof(buf), 0);
      if (n <= 0) return spdy::Frame{.type = spdy::FrameType::kGoAway, .value = 999};
      parser_.Feed(std::string_view(buf, static_cast<size_t>(n)));
    }
  }

  UniqueFd client_, server_;
  std::unique_ptr<SocketTransport> transport_;
  std::unique_ptr<PortForwardSession> session_;
  std::thread runner_;
  spdy::HeaderEncoder enc_;
  spdy::FrameParser parser_;
};

TEST_F(PortForwardSessionTest, ForwardsBytesBothWaysAndEndsBothStreams) {
  EchoServer echo;
  std::string port = std::to_string(echo.port());
  Open(1, "error", port, "0");
  EXPECT_EQ(Next().type, spdy::FrameType::kSynReply);
  Open(3, "data", port, "0");
  EXPECT_EQ(Next().type, spdy::FrameType::kSynReply);
  Send(spdy::EncodeData(3, "hello"));
  Send(spdy::EncodePing(7));
  std::string got;
  bool pong = false;
  while (got.size() < 5 || !pong) {
    spdy::Frame f = Next();
    if (f.type == spdy::FrameType::kPing) pong = f.value == 7;
    if (f.type == spdy::FrameType::kData && f.stream_id == 3) got += f.data;
    ASSERT_NE(f.value, 999u) << "connection closed";
  }
  EXPECT_EQ(got, "hello");
  Send(spdy::EncodeData(3, "", spdy::kFlagFin));  // client done: the echo server sees EOF
  bool data_fin = false, error_fin = false;
  while (!data_fin || !error_fin) {
    spdy::Frame f = Next();
    ASSERT_NE(f.value, 999u);
    if (f.type != spdy::FrameType::kData) continue;
    if (f.stream_id == 3 && f.fin()) data_fin = true;
    if (f.stream_id == 1) {
      EXPECT_EQ(f.data, "");  // success: an empty error stream
      error_fin = f.fin();
    }
  }
}

TEST_F(PortForwardSessionTest, ClosedPortIsReportedOnTheErrorStream) {
  Open(1, "error", "1", "");  // no requestID: paired by stream id, as old clients do
  EXPECT_EQ(Next().type, spdy::FrameType::kSynReply);
  Open(3, "data", "1", "");
  EXPECT_EQ(Next().type, spdy::FrameType::kSynReply);
  spdy::Frame f = Next();
  ASSERT_EQ(f.type, spdy::FrameType::kData);
  EXPECT_EQ(f.stream_id, 1u);
  EXPECT_TRUE(f.fin());
  EXPECT_EQ(f.data, "error forwarding port 1 to pod default/p: connection refused");
}

TEST_F(PortForwardSessionTest, BadStreamHeadersAreResetAndBadIdsEndTheSession) {
  Open(1, "data", "notaport", "0");
  spdy::Frame f = Next();
  EXPECT_EQ(f.type, spdy::FrameType::kRstStream);
  EXPECT_EQ(f.value, spdy::kRstProtocolError);
  Open(1, "data", "80", "0");  // a stream id that does not increase
  f = Next();
  EXPECT_EQ(f.type, spdy::FrameType::kGoAway);
  EXPECT_EQ(Next().value, 999u);  // then the server closes
}

TEST_F(PortForwardSessionTest, GarbageEndsTheSessionWithGoAway) {
  Send(std::string("\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", 12));  // SPDY/2
  EXPECT_EQ(Next().type, spdy::FrameType::kGoAway);
  EXPECT_EQ(Next().value, 999u);
}

}  // namespace
}  // namespace asb::apiserver
