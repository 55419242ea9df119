#include "node/probe.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <thread>

#include "http/listener.h"
#include "runtime/fake_runtime.h"
#include "tests/testing/test_util.h"

namespace asb::node {
namespace {

// How the prober ended the connection, as the sandbox's server saw it after answering.
enum class Close { kFin, kReset, kOther };

// One connection on a loopback listener: reads the request (if `http`), answers 200 and waits
// for the prober to close, without closing first (so the prober is the side that closes).
Close ServeOne(int listen_fd, bool http) {
  UniqueFd c(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!c) return Close::kOther;
  char buf[4096];
  if (http) {
    std::string req;
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(c.get(), buf, sizeof(buf), 0);
      if (n <= 0) return Close::kOther;
      req.append(buf, static_cast<size_t>(n));
    }
    const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    if (::send(c.get(), resp.data(), resp.size(), MSG_NOSIGNAL) < 0) return Close::kOther;
  }
  ssize_t n = ::recv(c.get(), buf, sizeof(buf), 0);
  if (n == 0) return Close::kFin;
  if (n < 0 && errno == ECONNRESET) return Close::kReset;
  return Close::kOther;
}

class ProbeTest : public ::testing::TestWithParam<ProbeSpec::Kind> {};

// A graceful close would leave the node a TIME_WAIT socket and a conntrack entry for two
// minutes per probe (thousands with a probe a second per pod): probes end with a reset.
TEST_P(ProbeTest, SucceedsAndClosesWithAReset) {
  auto listening = http::ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(listening) << listening.error().message;
  runtime::FakeRuntime rt("fake");
  runtime::SandboxSpec spec;
  spec.id = "probe-test";
  ASSERT_TRUE(rt.Start(spec));
  rt.ForwardPort(8888, listening->port);

  ProbeSpec probe;
  probe.kind = GetParam();
  probe.port = 8888;
  Close seen = Close::kOther;
  std::thread server(
      [&] { seen = ServeOne(listening->fd.get(), probe.kind == ProbeSpec::Kind::kHttpGet); });
  ProbeOutcome out = RunProbe(rt, spec.id, probe);
  server.join();
  EXPECT_TRUE(out.success) << out.message;
  EXPECT_EQ(seen, Close::kReset) << "the probe closed with a FIN (TIME_WAIT on the node)";
}

INSTANTIATE_TEST_SUITE_P(Kinds, ProbeTest,
                         ::testing::Values(ProbeSpec::Kind::kHttpGet, ProbeSpec::Kind::kTcpSocket));

TEST(ProbeFailureTest, RefusedPortFails) {
  runtime::FakeRuntime rt("fake");
  runtime::SandboxSpec spec;
  spec.id = "probe-test";
  ASSERT_TRUE(rt.Start(spec));
  ProbeSpec probe;
  probe.kind = ProbeSpec::Kind::kHttpGet;
  probe.port = 8888;  // nothing forwarded: refused
  ProbeOutcome out = RunProbe(rt, spec.id, probe);
  EXPECT_FALSE(out.success);
  EXPECT_NE(out.message.find("dial port 8888"), std::string::npos) << out.message;
}

}  // namespace
}  // namespace asb::node
