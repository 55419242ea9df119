// Needs root (unshare(CLONE_NEWNET), mount): label privileged.
#include "sys/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "base/file_util.h"
#include "tests/testing/test_util.h"

namespace asb::sys {
namespace {

using namespace std::chrono_literals;

class PersistentNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::IsRoot()) GTEST_SKIP() << "SKIPPED LOUDLY: network namespaces need root";
    char tmpl[] = "/tmp/asb-netns-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/netns";
  }
  void TearDown() override {
    if (dir_.empty()) return;
    EXPECT_OK(RemovePersistentNetns(path_));
    EXPECT_OK(RemoveTree(dir_));
  }

  // Runs fn inside the persisted namespace on a thread of its own.
  template <class F>
  void InNetns(F fn) {
    UniqueFd ns(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(ns);
    std::thread t([&] {
      ASSERT_EQ(::setns(ns.get(), CLONE_NEWNET), 0) << std::strerror(errno);
      fn();
    });
    t.join();
  }

  // A listener on 127.0.0.1 inside the namespace (the socket stays there); returns its port.
  uint16_t ListenInNetns(UniqueFd* listener, int backlog) {
    uint16_t port = 0;
    InNetns([&] {
      listener->Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof(a);
      ASSERT_EQ(::bind(listener->get(), reinterpret_cast<sockaddr*>(&a), len), 0);
      ASSERT_EQ(::listen(listener->get(), backlog), 0);
      ASSERT_EQ(::getsockname(listener->get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
      port = ntohs(a.sin_port);
    });
    return port;
  }

  std::string dir_, path_;
};

TEST_F(PersistentNetnsTest, HoldsOnlyLoopbackUpAndOutlivesItsMaker) {
  ASSERT_OK(CreatePersistentNetns(path_));
  EXPECT_ERROR_CODE(CreatePersistentNetns(path_), Code::kAlreadyExists);
  // The thread that made it is gone; the bind mount keeps the namespace alive.
  std::vector<std::string> names;
  bool lo_up = false;
  InNetns([&] {
    struct if_nameindex* ifs = ::if_nameindex();
    for (struct if_nameindex* i = ifs; i && i->if_index != 0; ++i) names.push_back(i->if_name);
    if (ifs) ::if_freenameindex(ifs);
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    lo_up = ::ioctl(s.get(), SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
  });
  EXPECT_EQ(names, std::vector<std::string>{"lo"});
  EXPECT_TRUE(lo_up);
  EXPECT_OK(RemovePersistentNetns(path_));
  EXPECT_FALSE(PathExists(path_));
  EXPECT_OK(RemovePersistentNetns(path_));  // idempotent
}

TEST_F(PersistentNetnsTest, ConnectReachesOnlyTheNamespacesListener) {
  ASSERT_OK(CreatePersistentNetns(path_));
  UniqueFd listener;
  uint16_t port = ListenInNetns(&listener, 8);
  ASSERT_NE(port, 0);
  ASSERT_OK_AND_ASSIGN(UniqueFd conn, ConnectInNetns(path_, port, 2s));
  UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);
  ASSERT_EQ(::write(conn.get(), "x", 1), 1);
  char c = 0;
  EXPECT_EQ(::read(accepted.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  // The socket is back in blocking mode for its user.
  EXPECT_EQ(::fcntl(conn.get(), F_GETFL) & O_NONBLOCK, 0);
  listener.Reset();
  EXPECT_ERROR_CODE(ConnectInNetns(path_, port, 2s), Code::kUnavailable);  // refused
}

TEST_F(PersistentNetnsTest, ConnectGivesUpAtTheTimeout) {
  ASSERT_OK(CreatePersistentNetns(path_));
  // Backlog 0 and nobody accepting: once the queue is full the kernel drops further SYNs, so a
  // blocking connect would hang for minutes of SYN retries.
  UniqueFd listener;
  uint16_t port = ListenInNetns(&listener, 0);
  ASSERT_NE(port, 0);
  std::vector<UniqueFd> held;
  bool timed_out = false;
  for (int i = 0; i < 4 && !timed_out; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto c = ConnectInNetns(path_, port, 300ms);
    auto took = std::chrono::steady_clock::now() - t0;
    if (c) {
      held.push_back(std::move(*c));
      continue;
    }
    EXPECT_EQ(c.error().code, Code::kUnavailable) << c.error().message;
    EXPECT_NE(c.error().message.find("timed out"), std::string::npos) << c.error().message;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 2s);
    timed_out = true;
  }
  EXPECT_TRUE(timed_out) << "every connect completed; the accept queue never filled";
}

TEST_F(PersistentNetnsTest, MissingNamespaceIsNotFound) {
  EXPECT_ERROR_CODE(ConnectInNetns(path_, 80, 1s), Code::kNotFound);
}

}  // namespace
}  // namespace asb::sys
