// The connection engine's limits, driven through http::Server with real sockets on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "http/client.h"
#include "http/server.h"

namespace asb::http {
namespace {

using namespace std::chrono_literals;

UniqueFd Dial(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return UniqueFd();
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until EOF or `timeout`; returns what arrived.
std::string ReadToEof(int fd, std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// A latch the handler waits on, so tests hold requests busy deterministically.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int waiting = 0;
  void Wait() {
    std::unique_lock l(mu);
    ++waiting;
    cv.notify_all();
    cv.wait(l, [&] { return open; });
  }
  void AwaitWaiting(int n) {
    std::unique_lock l(mu);
    cv.wait_for(l, 10s, [&] { return waiting >= n; });
  }
  void Open() {
    std::lock_guard l(mu);
    open = true;
    cv.notify_all();
  }
};

TEST(ServerCoreTest, IdleConnectionsDoNotLockOutANewClient) {
  ServerOptions opts;
  opts.max_connections = 64;
  opts.max_connections_per_ip = 64;
  auto server = Server::Start(opts, [](Request&) { return Response::Text(200, "ok"); });
  ASSERT_TRUE(server) << server.error().message;
  // 4x the cap of idle connections: half never sent a byte, half are kept-alive after a request.
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 128; ++i) idle.push_back(Dial((*server)->port()));
  std::vector<Client> kept;
  for (int i = 0; i < 128; ++i) {
    auto c = Client::Connect("127.0.0.1", (*server)->port());
    ASSERT_TRUE(c);
    auto r = c->Do({.method = "GET", .target = "/"});
    if (r) kept.push_back(std::move(*c));
  }
  auto start = std::chrono::steady_clock::now();
  auto resp = Fetch("127.0.0.1", (*server)->port(), {.method = "GET", .target = "/new"});
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(resp) << resp.error().message;
  EXPECT_EQ(resp->status, 200);
  EXPECT_LT(took, 1s);
  CoreStats st = (*server)->stats();
  EXPECT_LE(st.open, 64u);
  EXPECT_GE(st.evicted, 128u + 128u + 1u - 64u);
  EXPECT_EQ(st.refused, 0u);
}

TEST(ServerCoreTest, WhenEverySlotIsBusyANewConnectionGets503) {
  ServerOptions opts;
  opts.max_connections = 3;
  Gate gate;
  auto server = Server::Start(opts, [&](Request&) {
    gate.Wait();
    return Response::Text(200, "ok");
  });
  ASSERT_TRUE(server);
  std::vector<std::thread> busy;
  std::atomic<int> ok{0};
  for (int i = 0; i < 3; ++i) {
    busy.emplace_back([&] {
      auto r = Fetch("127.0.0.1", (*server)->port(), {.method = "GET", .target = "/"});
      if (r && r->status == 200) ++ok;
    });
  }
  gate.AwaitWaiting(3);
  UniqueFd extra = Dial((*server)->port());
  ASSERT_TRUE(extra);
  std::string answer = ReadToEof(extra.get(), 5s);
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
  EXPECT_NE(answer.find("too many connections"), std::string::npos);
  gate.Open();
  for (auto& t : busy) t.join();
  EXPECT_EQ(ok, 3);
  EXPECT_EQ((*server)->stats().refused, 1u);
}

TEST(ServerCoreTest, PerClientIpCapHoldsBelowTheGlobalCap) {
  ServerOptions opts;
  opts.max_connections = 100;
  opts.max_connections_per_ip = 2;
  Gate gate;
  auto server = Server::Start(opts, [&](Request&) {
    gate.Wait();
    return Response::Text(200, "ok");
  });
  ASSERT_TRUE(server);
  std::vector<std::thread> busy;
  for (int i = 0; i < 2; ++i)
    busy.emplace_back(
        [&] { (void)Fetch("127.0.0.1", (*server)->port(), {.method = "GET", .target = "/"}); });
  gate.AwaitWaiting(2);
  UniqueFd extra = Dial((*server)->port());
  std::string answer = ReadToEof(extra.get(), 5s);
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
  gate.Open();
  for (auto& t : busy) t.join();
}

TEST(ServerCoreTest, FailedWorkerCreationQueuesRequestsInsteadOfAborting) {
  ServerOptions opts;
  opts.min_workers = 1;
  opts.max_workers = 16;
  auto server = Server::Start(opts, [](Request&) {
    std::this_thread::sleep_for(20ms);
    return Response::Text(200, "ok");
  });
  ASSERT_TRUE(server);
  // As under a pids limit: every further thread creation fails with EAGAIN.
  (*server)->core().FailNextSpawnsForTest(1 << 20);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&] {
      auto r = Fetch("127.0.0.1", (*server)->port(), {.method = "GET", .target = "/"});
      if (r && r->status == 200) ++ok;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok, 6);
  CoreStats st = (*server)->stats();
  EXPECT_EQ(st.workers, 1u);
  EXPECT_GT(st.spawn_failures, 0u);
}

TEST(ServerCoreTest, SlowHeaderIsDroppedAfterHeaderTimeout) {
  ServerOptions opts;
  opts.header_timeout_ms = 200;
  auto server = Server::Start(opts, [](Request&) { return Response::Text(200, "ok"); });
  ASSERT_TRUE(server);
  UniqueFd fd = Dial((*server)->port());
  auto start = std::chrono::steady_clock::now();
  // A slow-loris client: a byte every 50 ms keeps each read alive but never ends the header.
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    SendAll(fd.get(), "GET / HTTP/1.1\r\n");
    while (!stop && SendAll(fd.get(), "X")) std::this_thread::sleep_for(50ms);
  });
  std::string got = ReadToEof(fd.get(), 5s);
  auto took = std::chrono::steady_clock::now() - start;
  stop = true;
  trickle.join();
  EXPECT_LT(took, 2s);
  EXPECT_EQ(got, "");
}

TEST(ServerCoreTest, OversizedBodyGets413ThatTheSendingClientCanRead) {
  ServerOptions opts;
  opts.max_body_bytes = 3 << 20;
  auto server = Server::Start(opts, [](Request&) { return Response::Text(200, "ok"); });
  ASSERT_TRUE(server);
  for (bool chunked : {false, true}) {
    SCOPED_TRACE(chunked ? "chunked" : "content-length");
    UniqueFd fd = Dial((*server)->port());
    const std::string body(4 << 20, 'x');
    std::string head = "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n";
    std::string wire;
    if (chunked) {
      head += "Transfer-Encoding: chunked\r\n\r\n";
      char size[32];
      std::snprintf(size, sizeof(size), "%zx\r\n", body.size());
      wire = head + size + body + "\r\n0\r\n\r\n";
    } else {
      wire = head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    }
    // Like Python's http.client: the whole body first, the response after.
    ASSERT_TRUE(SendAll(fd.get(), wire)) << "server reset the connection mid-body";
    std::string answer = ReadToEof(fd.get(), 10s);
    EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer.substr(0, 200);
    // The default renderer speaks FastAPI's shape (asb-agent's protocol), not a Kubernetes Status.
    EXPECT_NE(answer.find("{\"detail\":\"Request entity too large"), std::string::npos) << answer;
    EXPECT_EQ(answer.find("\"kind\":\"Status\""), std::string::npos);
    EXPECT_NE(answer.find("limit is 3145728"), std::string::npos);
  }
}

TEST(ServerCoreTest, PipelinedRequestsAreAllAnswered) {
  auto server = Server::Start({}, [](Request& r) { return Response::Text(200, "path=" + r.path); });
  ASSERT_TRUE(server);
  UniqueFd fd = Dial((*server)->port());
  ASSERT_TRUE(SendAll(fd.get(),
                      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n"
                      "Connection: close\r\n\r\n"));
  std::string answer = ReadToEof(fd.get(), 5s);
  EXPECT_NE(answer.find("path=/a"), std::string::npos) << answer;
  EXPECT_NE(answer.find("path=/b"), std::string::npos) << answer;
}

TEST(ServerCoreTest, IdleTimeoutClosesConnectionsThatNeverSentAByte) {
  ServerOptions opts;
  opts.idle_timeout_ms = 150;
  auto server = Server::Start(opts, [](Request&) { return Response::Text(200, "ok"); });
  ASSERT_TRUE(server);
  UniqueFd fd = Dial((*server)->port());
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ReadToEof(fd.get(), 5s), "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ((*server)->stats().open, 0u);
}

}  // namespace
}  // namespace asb::http
