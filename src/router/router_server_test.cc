// Integration tests: a real RouterServer on 127.0.0.1:0 in front of real upstreams on loopback
// (an http::Server echo, and a raw streaming server for big bodies and WebSocket), reached
// through StaticBackend.
#include "router/router_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/core/detail/sha1.hpp>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "base/json_util.h"
#include "base/strings.h"
#include "http/client.h"
#include "http/server.h"
#include "router/static_backend.h"

namespace asb::router {
namespace {

constexpr char kToken[] = "test-token-123";

// ---------- small socket helpers ----------

UniqueFd Dial(uint16_t port) {
  auto fd = DialTcp("127.0.0.1", port);
  EXPECT_TRUE(fd.has_value()) << (fd ? "" : fd.error().message);
  return fd ? std::move(*fd) : UniqueFd();
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until "\r\n\r\n" (5 s limit). Returns the head; bytes after it go to *rest.
std::string ReadHead(int fd, std::string* rest) {
  std::string buf = *rest;
  rest->clear();
  char tmp[4096];
  for (;;) {
    size_t end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      *rest = buf.substr(end + 4);
      return buf.substr(0, end + 4);
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return "";
    ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
    if (n <= 0) return "";
    buf.append(tmp, static_cast<size_t>(n));
  }
}

// Reads exactly n bytes (after `rest`) with a 5 s limit per read.
std::string ReadExactly(int fd, size_t n, std::string* rest) {
  std::string out = std::move(*rest);
  rest->clear();
  char tmp[65536];
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    ssize_t r = ::recv(fd, tmp, std::min(sizeof(tmp), n - out.size()), 0);
    if (r <= 0) break;
    out.append(tmp, static_cast<size_t>(r));
  }
  if (out.size() > n) {
    *rest = out.substr(n);
    out.resize(n);
  }
  return out;
}

std::string HeaderValue(const std::string& head, std::string name) {
  std::string lower = ToLower(head);
  name = "\r\n" + ToLower(name) + ":";
  size_t p = lower.find(name);
  if (p == std::string::npos) return "";
  size_t start = p + name.size();
  size_t end = head.find("\r\n", start);
  return std::string(Trim(head.substr(start, end - start)));
}

int StatusOf(const std::string& head) {
  if (head.size() < 12) return 0;
  return static_cast<int>(ParseInt(head.substr(9, 3)).value_or(0));
}

uint8_t PatternByte(uint64_t i) { return static_cast<uint8_t>((i * 131 + 7) ^ (i >> 11)); }

struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void Add(const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<uint8_t>(p[i])) * 1099511628211ull;
  }
};

uint64_t PatternHash(uint64_t n) {
  Fnv f;
  std::vector<char> buf(65536);
  for (uint64_t off = 0; off < n;) {
    size_t k = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - off));
    for (size_t i = 0; i < k; ++i) buf[i] = static_cast<char>(PatternByte(off + i));
    f.Add(buf.data(), k);
    off += k;
  }
  return f.h;
}

long ProcStatusKb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (StartsWith(line, key)) return std::strtol(line.c_str() + std::strlen(key), nullptr, 10);
  return -1;
}

std::string WebSocketAccept(const std::string& key) {
  namespace d = boost::beast::detail;
  std::string in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  d::sha1_context ctx;
  d::init(ctx);
  d::update(ctx, in.data(), in.size());
  unsigned char digest[20];
  d::finish(ctx, digest);
  std::string out(d::base64::encoded_size(20), '\0');
  out.resize(d::base64::encode(out.data(), digest, 20));
  return out;
}

// Reads one WebSocket frame; returns {opcode, unmasked payload}. opcode -1 on failure.
std::pair<int, std::string> ReadFrame(int fd, std::string* rest) {
  std::string h = ReadExactly(fd, 2, rest);
  if (h.size() != 2) return {-1, ""};
  int opcode = h[0] & 0x0f;
  bool masked = h[1] & 0x80;
  uint64_t len = h[1] & 0x7f;
  if (len == 126) {
    std::string l = ReadExactly(fd, 2, rest);
    len = (static_cast<uint8_t>(l[0]) << 8) | static_cast<uint8_t>(l[1]);
  } else if (len == 127) {
    return {-1, ""};  // not needed by these tests
  }
  std::string mask = masked ? ReadExactly(fd, 4, rest) : "";
  std::string payload = ReadExactly(fd, static_cast<size_t>(len), rest);
  if (masked)
    for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= mask[i % 4];
  return {opcode, payload};
}

std::string Frame(int opcode, const std::string& payload, bool mask) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  uint8_t mbit = mask ? 0x80 : 0;
  if (payload.size() < 126) {
    f += static_cast<char>(mbit | payload.size());
  } else {
    f += static_cast<char>(mbit | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xff);
  }
  const char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (mask) f.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    f += static_cast<char>(mask ? payload[i] ^ key[i % 4] : payload[i]);
  return f;
}

// ---------- raw streaming upstream ----------

// One request per connection (answers with Connection: close):
//   POST /sink           reads a Content-Length body in 64 KiB pieces, answers {"bytes","fnv"}
//   GET  /source?n=N     sends N pattern bytes with Content-Length, piece by piece
//   GET  /ws (Upgrade)   WebSocket handshake, then echoes frames until a close frame
class RawUpstream {
 public:
  RawUpstream() {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd.get(), 64), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen_ = std::move(fd);
    acceptor_ = std::thread([this] {
      for (;;) {
        int c = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        std::lock_guard l(mu_);
        workers_.emplace_back([this, c] {
          UniqueFd conn(c);
          Serve(conn.get());
        });
      }
    });
  }
  ~RawUpstream() {
    ::shutdown(listen_.get(), SHUT_RDWR);
    acceptor_.join();
    for (auto& t : workers_) t.join();
  }
  uint16_t port() const { return port_; }

 private:
  void Serve(int fd) {
    std::string rest;
    std::string head = ReadHead(fd, &rest);
    if (head.empty()) return;
    std::string line = head.substr(0, head.find("\r\n"));
    if (StartsWith(line, "POST /sink ")) {
      uint64_t n = static_cast<uint64_t>(ParseInt(HeaderValue(head, "Content-Length")).value_or(0));
      Fnv f;
      uint64_t got = rest.size();
      f.Add(rest.data(), rest.size());
      std::vector<char> buf(65536);
      while (got < n) {
        ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
        if (r <= 0) break;
        f.Add(buf.data(), static_cast<size_t>(r));
        got += static_cast<uint64_t>(r);
      }
      std::string body = DumpJson(Json{{"bytes", got}, {"fnv", std::to_string(f.h)}});
      SendAll(fd,
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
              "Content-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body);
    } else if (StartsWith(line, "GET /source?n=")) {
      uint64_t n =
          static_cast<uint64_t>(ParseInt(line.substr(14, line.find(' ', 14) - 14)).value_or(0));
      SendAll(fd,
              "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
              "Connection: close\r\nContent-Length: " +
                  std::to_string(n) + "\r\n\r\n");
      std::vector<char> buf(65536);
      for (uint64_t off = 0; off < n;) {
        size_t k = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - off));
        for (size_t i = 0; i < k; ++i) buf[i] = static_cast<char>(PatternByte(off + i));
        if (!SendAll(fd, std::string_view(buf.data(), k))) return;
        off += k;
      }
    } else if (StartsWith(line, "GET /ws ")) {
      std::string key = HeaderValue(head, "Sec-WebSocket-Key");
      saw_authorization_ws_ = !HeaderValue(head, "Authorization").empty();
      SendAll(fd,
              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
                  WebSocketAccept(key) + "\r\n\r\n");
      for (;;) {
        auto [op, payload] = ReadFrame(fd, &rest);
        if (op < 0) return;
        SendAll(fd, Frame(op, payload, false));
        if (op == 8) return;  // close: echo it and hang up
      }
    } else if (StartsWith(line, "GET /hugeheaders ")) {
      // A hostile sandbox: an endless response header made of small fields.
      SendAll(fd, "HTTP/1.1 200 OK\r\n");
      for (int i = 0; i < 4000; ++i)
        if (!SendAll(fd, "X-Junk-" + std::to_string(i) + ": " + std::string(40, 'j') + "\r\n"))
          return;
    } else {
      SendAll(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
  }

 public:
  std::atomic<bool> saw_authorization_ws_{false};

 private:
  UniqueFd listen_;
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
};

// Counts Connect calls so tests can see upstream connection reuse.
class CountingBackend final : public Backend {
 public:
  explicit CountingBackend(Backend& inner) : inner_(inner) {}
  Result<UniqueFd> Connect(const std::string& ns, const std::string& id, uint16_t port) override {
    ++connects;
    return inner_.Connect(ns, id, port);
  }
  std::atomic<int> connects{0};

 private:
  Backend& inner_;
};

// ---------- fixture ----------

class RouterServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::ServerOptions so;
    so.max_body_bytes = 4 * 1024 * 1024;
    auto echo = http::Server::Start(so, [this](http::Request& req) { return Echo(req); });
    ASSERT_TRUE(echo.has_value()) << echo.error().message;
    echo_ = std::move(*echo);
    backend_.Set("default", "echo", {.port_override = echo_->port()});
    backend_.Set("team-a", "echo", {.port_override = echo_->port()});
    backend_.Set("default", "raw", {.port_override = raw_.port()});
    backend_.Set("default", "starting",
                 {.error = Error{Code::kUnavailable, "pod is not ready yet", 0}});
    // A port that was just free: dialling it is refused.
    UniqueFd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(probe.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    ::getsockname(probe.get(), reinterpret_cast<sockaddr*>(&a), &len);
    backend_.Set("default", "dead", {.port_override = ntohs(a.sin_port)});
    StartRouter({});
  }

  void StartRouter(RouterOptions opts) {
    router_.reset();
    opts.token = kToken;
    auto r = RouterServer::Start(opts, counting_);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    router_ = std::move(*r);
  }

  http::Response Echo(http::Request& req) {
    if (req.path == "/chunked") {
      http::Response resp;
      resp.headers.Set("Content-Type", "application/x-ndjson");
      resp.stream = [this](http::ResponseStream& out) {
        out.Write("{\"n\":1}\n");
        std::unique_lock l(mu_);
        // The second chunk waits until the client has seen the first: proves pass-through.
        first_chunk_seen_cv_.wait_for(l, std::chrono::seconds(5), [&] { return first_seen_; });
        out.Write("{\"n\":2}\n");
      };
      return resp;
    }
    if (req.path == "/slow") {
      std::unique_lock l(mu_);
      first_chunk_seen_cv_.wait_for(l, std::chrono::seconds(3), [&] { return first_seen_; });
      return http::Response::Text(200, "late");
    }
    Json headers = Json::object();
    for (const auto& [k, v] : req.headers.items()) headers[ToLower(k)] = v;
    return http::Response::Json(200, {{"method", req.method},
                                      {"target", req.target},
                                      {"headers", headers},
                                      {"body_size", req.body.size()},
                                      {"body", req.body.substr(0, 64)}});
  }

  http::Request Req(std::string method, std::string target, std::string id = "echo") {
    http::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers.Set("Authorization", std::string("Bearer ") + kToken);
    if (!id.empty()) r.headers.Set("X-Sandbox-ID", std::move(id));
    return r;
  }

  http::ClientResponse Do(const http::Request& r) {
    auto c = http::Client::Connect("127.0.0.1", router_->port());
    EXPECT_TRUE(c.has_value());
    if (!c) return {};
    auto resp = c->Do(r);
    EXPECT_TRUE(resp.has_value()) << (resp ? "" : resp.error().message);
    return resp ? *resp : http::ClientResponse{};
  }

  static std::string Detail(const http::ClientResponse& r) {
    auto j = ParseJson(r.body);
    return j ? GetString(*j, "detail", "<no detail>") : "<not json: " + r.body + ">";
  }

  std::mutex mu_;
  std::condition_variable first_chunk_seen_cv_;
  bool first_seen_ = false;
  std::unique_ptr<http::Server> echo_;
  RawUpstream raw_;
  StaticBackend backend_;
  CountingBackend counting_{backend_};
  std::unique_ptr<RouterServer> router_;
};

TEST_F(RouterServerTest, HealthzNeedsNoToken) {
  http::Request r;
  r.method = "GET";
  r.target = "/healthz";
  auto resp = Do(r);
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, R"({"status":"ok"})");
}

TEST_F(RouterServerTest, RejectsMissingOrWrongToken) {
  http::Request r = Req("GET", "/");
  r.headers.Remove("Authorization");
  auto resp = Do(r);
  EXPECT_EQ(resp.status, 401);
  EXPECT_FALSE(Detail(resp).empty());
  EXPECT_EQ(resp.headers.GetOr("WWW-Authenticate", ""), "Bearer");
  r.headers.Set("Authorization", "Bearer wrong");
  EXPECT_EQ(Do(r).status, 401);
  EXPECT_EQ(counting_.connects.load(), 0);
}

TEST_F(RouterServerTest, BadRoutingHeadersGetUpstreamMessages) {
  struct Case {
    std::string header, value, detail;
  } cases[] = {
      {"", "", "X-Sandbox-ID header is required."},
      {"X-Sandbox-ID", "Bad_ID", "Invalid sandbox ID format."},
      {"X-Sandbox-Namespace", "NS!", "Invalid namespace format."},
      {"X-Sandbox-Port", "70000", "Invalid port format."},
  };
  for (const Case& c : cases) {
    http::Request r = Req("GET", "/", c.header.empty() ? "" : "echo");
    if (!c.header.empty()) r.headers.Set(c.header, c.value);
    auto resp = Do(r);
    EXPECT_EQ(resp.status, 400) << c.detail;
    EXPECT_EQ(Detail(resp), c.detail);
    EXPECT_EQ(resp.headers.GetOr("Content-Type", ""), "application/json");
  }
}

TEST_F(RouterServerTest, BackendErrorsMapToStatuses) {
  auto nf = Do(Req("GET", "/", "nosuch"));
  EXPECT_EQ(nf.status, 404);
  EXPECT_NE(Detail(nf).find("nosuch"), std::string::npos);
  auto nr = Do(Req("GET", "/", "starting"));
  EXPECT_EQ(nr.status, 503);
  EXPECT_NE(Detail(nr).find("not ready"), std::string::npos);
  auto dead = Do(Req("GET", "/", "dead"));
  EXPECT_EQ(dead.status, 502);
  EXPECT_EQ(Detail(dead), "Could not connect to the backend sandbox: dead");
  // Upstream's FastAPI HTTPException shape exactly: one "detail" string, nothing else.
  EXPECT_EQ(ParseJson(dead.body).value(),
            Json({{"detail", "Could not connect to the backend sandbox: dead"}}));
}

// Retry-After marks exactly the failures where nothing reached the sandbox (the connect into it
// failed): a client may send even a POST again. A sandbox that got the request, or does not
// exist, gets none.
TEST_F(RouterServerTest, OnlyRequestsThatNeverReachedTheSandboxSayRetryAfter) {
  auto starting = Do(Req("POST", "/execute", "starting"));
  EXPECT_EQ(starting.status, 503);
  EXPECT_EQ(starting.headers.GetOr("Retry-After", ""), "1");
  auto refused = Do(Req("POST", "/execute", "dead"));
  EXPECT_EQ(refused.status, 502);
  EXPECT_EQ(refused.headers.GetOr("Retry-After", ""), "1");
  EXPECT_EQ(Do(Req("GET", "/", "nosuch")).headers.GetOr("Retry-After", "none"), "none");
  auto broken = Do(Req("GET", "/hugeheaders", "raw"));  // sent; the answer was unreadable
  EXPECT_EQ(broken.status, 502);
  EXPECT_EQ(broken.headers.GetOr("Retry-After", "none"), "none");
  auto ok = Do(Req("GET", "/"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.headers.GetOr("Retry-After", "none"), "none");
}

TEST_F(RouterServerTest, ProxiesMethodPathQueryAndStripsAuthorization) {
  http::Request r = Req("GET", "/list/a%20b?x=1&y=two%2F3");
  r.headers.Set("X-Sandbox-Namespace", "team-a");
  r.headers.Set("X-Forwarded-For", "6.6.6.6");
  r.headers.Set("X-Custom", "kept");
  auto resp = Do(r);
  ASSERT_EQ(resp.status, 200) << resp.body;
  auto j = ParseJson(resp.body);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ((*j)["method"], "GET");
  EXPECT_EQ((*j)["target"], "/list/a%20b?x=1&y=two%2F3");
  const Json& h = (*j)["headers"];
  EXPECT_FALSE(h.contains("authorization")) << "the sandbox must never see the caller's token";
  EXPECT_EQ(h.value("x-forwarded-for", ""), "127.0.0.1");
  EXPECT_EQ(h.value("x-forwarded-proto", ""), "http");
  EXPECT_EQ(h.value("host", ""), "localhost:8888");
  EXPECT_EQ(h.value("x-custom", ""), "kept");
  EXPECT_EQ(h.value("x-sandbox-id", ""), "echo");
  EXPECT_FALSE(h.value("x-request-id", "").empty());
}

TEST_F(RouterServerTest, ProxiesBodiesForEveryMethod) {
  for (const char* m : {"POST", "PUT", "PATCH", "DELETE"}) {
    http::Request r = Req(m, "/execute");
    r.body = R"({"command":"echo hi"})";
    r.headers.Set("Content-Type", "application/json");
    auto resp = Do(r);
    ASSERT_EQ(resp.status, 200);
    auto j = ParseJson(resp.body);
    ASSERT_TRUE(j.has_value());
    EXPECT_EQ((*j)["method"], m);
    EXPECT_EQ((*j)["body"], r.body);
  }
}

TEST_F(RouterServerTest, ChunkedRequestBodyIsForwarded) {
  UniqueFd fd = Dial(router_->port());
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(SendAll(fd.get(), "POST /upload?x=1 HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer " +
                                    std::string(kToken) +
                                    "\r\nX-Sandbox-ID: echo\r\nTransfer-Encoding: chunked\r\n"
                                    "Expect: 100-continue\r\n\r\n"));
  std::string rest;
  // The router answers 100-continue itself, before the body is sent.
  EXPECT_EQ(StatusOf(ReadHead(fd.get(), &rest)), 100);
  ASSERT_TRUE(SendAll(fd.get(), "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  std::string head = ReadHead(fd.get(), &rest);
  ASSERT_EQ(StatusOf(head), 200) << head;
  auto len = ParseInt(HeaderValue(head, "Content-Length"));
  ASSERT_TRUE(len.has_value());
  auto j = ParseJson(ReadExactly(fd.get(), static_cast<size_t>(*len), &rest));
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ((*j)["body"], "hello world");
  EXPECT_FALSE((*j)["headers"].contains("expect"));
}

TEST_F(RouterServerTest, KeepAliveReusesClientAndUpstreamConnections) {
  auto c = http::Client::Connect("127.0.0.1", router_->port());
  ASSERT_TRUE(c.has_value());
  for (int i = 0; i < 5; ++i) {
    http::Request r = Req("POST", "/execute?i=" + std::to_string(i));
    r.body = std::string(1000 + i, 'x');
    auto resp = c->Do(r);
    ASSERT_TRUE(resp.has_value()) << resp.error().message;
    ASSERT_EQ(resp->status, 200);
    EXPECT_EQ(ParseJson(resp->body)->at("body_size"), 1000 + i);
  }
  EXPECT_EQ(counting_.connects.load(), 1);
  // A different sandbox on the same client connection gets its own upstream.
  auto other = c->Do(Req("GET", "/", "raw"));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->status, 404);  // the raw upstream knows no "/"
  EXPECT_EQ(counting_.connects.load(), 2);
  // Errors are answered on the same kept-alive connection.
  auto bad = c->Do(Req("GET", "/", "Bad_ID"));
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, 400);
  auto again = c->Do(Req("GET", "/"));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 200);
}

// The dur= of one Server-Timing metric ("upstream"), or -1 when it is missing.
double TimingDur(const std::string& value, const std::string& metric) {
  size_t at = value.find(metric + ";");
  if (at == std::string::npos) return -1;
  size_t dur = value.find("dur=", at);
  return dur == std::string::npos ? -1 : std::stod(value.substr(dur + 4));
}

TEST_F(RouterServerTest, ServerTimingNamesEachHopOnEveryProxiedResponse) {
  auto c = http::Client::Connect("127.0.0.1", router_->port());
  ASSERT_TRUE(c.has_value());
  auto first = c->Do(Req("GET", "/"));
  ASSERT_TRUE(first.has_value());
  std::string timing = first->headers.GetOr("Server-Timing", "");
  EXPECT_GE(TimingDur(timing, "resolve"), 0) << timing;
  EXPECT_GT(TimingDur(timing, "dial"), 0) << timing;
  EXPECT_GT(TimingDur(timing, "upstream"), 0) << timing;
  EXPECT_EQ(timing.find("reused"), std::string::npos) << timing;
  auto second = c->Do(Req("GET", "/"));
  ASSERT_TRUE(second.has_value());
  timing = second->headers.GetOr("Server-Timing", "");
  EXPECT_NE(timing.find("dial;dur=0.000;desc=\"reused\""), std::string::npos) << timing;
  EXPECT_GT(TimingDur(timing, "upstream"), 0) << timing;

  // The upstream figure is the sandbox's time to its response header: /slow answers once
  // first_seen_ is set, at least 200 ms after the request was sent.
  std::thread release([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::lock_guard l(mu_);
    first_seen_ = true;
    first_chunk_seen_cv_.notify_all();
  });
  auto slow = c->Do(Req("GET", "/slow"));
  release.join();
  ASSERT_TRUE(slow.has_value());
  timing = slow->headers.GetOr("Server-Timing", "");
  EXPECT_GE(TimingDur(timing, "upstream"), 200) << timing;
  EXPECT_LT(TimingDur(timing, "resolve"), 200) << timing;
}

TEST_F(RouterServerTest, ChunkedResponseStreamsThrough) {
  // A raw client: it must see the first chunk while the upstream is still waiting to send the
  // second (http::Client reads whole buffers, which would hide the streaming).
  UniqueFd fd = Dial(router_->port());
  ASSERT_TRUE(fd.valid());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(SendAll(fd.get(), "GET /chunked HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer " +
                                    std::string(kToken) + "\r\nX-Sandbox-ID: echo\r\n\r\n"));
  std::string rest;
  std::string head = ReadHead(fd.get(), &rest);
  ASSERT_EQ(StatusOf(head), 200) << head;
  EXPECT_EQ(ToLower(HeaderValue(head, "Transfer-Encoding")), "chunked");
  // Sent with the header, before the body: upstream is the time to the first byte.
  EXPECT_GT(TimingDur(HeaderValue(head, "Server-Timing"), "upstream"), 0) << head;
  std::string got = rest;
  char buf[4096];
  while (got.find("{\"n\":1}") == std::string::npos) {
    pollfd p{fd.get(), POLLIN, 0};
    ASSERT_GT(::poll(&p, 1, 3000), 0) << "first chunk did not arrive; got: " << got;
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(got.find("{\"n\":2}"), std::string::npos);
  {
    std::lock_guard l(mu_);
    first_seen_ = true;
    first_chunk_seen_cv_.notify_all();
  }
  while (got.find("0\r\n\r\n") == std::string::npos) {
    pollfd p{fd.get(), POLLIN, 0};
    ASSERT_GT(::poll(&p, 1, 3000), 0) << "stream did not end; got: " << got;
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(got, "8\r\n{\"n\":1}\n\r\n8\r\n{\"n\":2}\n\r\n0\r\n\r\n");
  // Had the router buffered the body, the upstream would have waited its full 5 s.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

TEST_F(RouterServerTest, SlowUpstreamTimesOutWith504) {
  RouterOptions opts;
  opts.proxy_timeout = std::chrono::milliseconds(300);
  StartRouter(opts);
  auto resp = Do(Req("GET", "/slow"));
  EXPECT_EQ(resp.status, 504);
  EXPECT_NE(Detail(resp).find("echo"), std::string::npos);
  {
    std::lock_guard l(mu_);
    first_seen_ = true;
    first_chunk_seen_cv_.notify_all();
  }
}

TEST_F(RouterServerTest, FiftyMiBUploadAndDownloadStreamWithBoundedMemory) {
  constexpr uint64_t kSize = 50ull * 1024 * 1024;
  const uint64_t want_hash = PatternHash(kSize);
  // Reset the peak-RSS counter (Linux: "5" to clear_refs) so VmHWM measures this test only.
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  long rss_before = ProcStatusKb("VmRSS:");

  // Upload: a raw client streams the body; the upstream hashes what arrives.
  {
    UniqueFd fd = Dial(router_->port());
    ASSERT_TRUE(fd.valid());
    std::string head = "POST /sink HTTP/1.1\r\nHost: router\r\nAuthorization: Bearer " +
                       std::string(kToken) +
                       "\r\nX-Sandbox-ID: raw\r\nContent-Type: application/octet-stream\r\n"
                       "Content-Length: " +
                       std::to_string(kSize) + "\r\n\r\n";
    ASSERT_TRUE(SendAll(fd.get(), head));
    std::vector<char> buf(65536);
    for (uint64_t off = 0; off < kSize;) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(buf.size(), kSize - off));
      for (size_t i = 0; i < k; ++i) buf[i] = static_cast<char>(PatternByte(off + i));
      ASSERT_TRUE(SendAll(fd.get(), std::string_view(buf.data(), k)));
      off += k;
    }
    std::string rest;
    std::string resp_head = ReadHead(fd.get(), &rest);
    ASSERT_EQ(StatusOf(resp_head), 200) << resp_head;
    size_t len = static_cast<size_t>(ParseInt(HeaderValue(resp_head, "Content-Length")).value());
    auto j = ParseJson(ReadExactly(fd.get(), len, &rest));
    ASSERT_TRUE(j.has_value());
    EXPECT_EQ((*j)["bytes"], kSize);
    EXPECT_EQ((*j)["fnv"], std::to_string(want_hash)) << "upload corrupted in transit";
  }
  // Download: a raw client hashes the stream as it arrives.
  {
    UniqueFd fd = Dial(router_->port());
    ASSERT_TRUE(fd.valid());
    ASSERT_TRUE(SendAll(fd.get(), "GET /source?n=" + std::to_string(kSize) +
                                      " HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer " +
                                      std::string(kToken) + "\r\nX-Sandbox-ID: raw\r\n\r\n"));
    std::string rest;
    std::string head = ReadHead(fd.get(), &rest);
    ASSERT_EQ(StatusOf(head), 200) << head;
    EXPECT_EQ(HeaderValue(head, "Content-Length"), std::to_string(kSize));
    Fnv f;
    f.Add(rest.data(), rest.size());
    uint64_t got = rest.size();
    std::vector<char> buf(65536);
    while (got < kSize) {
      pollfd p{fd.get(), POLLIN, 0};
      ASSERT_GT(::poll(&p, 1, 5000), 0) << "download stalled at " << got;
      ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
      ASSERT_GT(n, 0) << "download ended at " << got;
      f.Add(buf.data(), static_cast<size_t>(n));
      got += static_cast<uint64_t>(n);
    }
    EXPECT_EQ(got, kSize);
    EXPECT_EQ(f.h, want_hash) << "download corrupted in transit";
  }
  long hwm_after = ProcStatusKb("VmHWM:");
  ASSERT_GT(rss_before, 0);
  // Router, upstream and client all live in this process: 100 MiB moved, the peak grew by far
  // less than one body.
  EXPECT_LT(hwm_after - rss_before, 16 * 1024)
      << "peak RSS grew by " << (hwm_after - rss_before) << " KiB while proxying 2 x 50 MiB";
}

TEST_F(RouterServerTest, WebSocketUpgradeRelaysFramesBothWays) {
  UniqueFd fd = Dial(router_->port());
  ASSERT_TRUE(fd.valid());
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  ASSERT_TRUE(SendAll(fd.get(), "GET /ws HTTP/1.1\r\nHost: router\r\nAuthorization: Bearer " +
                                    std::string(kToken) +
                                    "\r\nX-Sandbox-ID: raw\r\nConnection: Upgrade\r\n"
                                    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                                    "Origin: http://example\r\nSec-WebSocket-Key: " +
                                    key + "\r\n\r\n"));
  std::string rest;
  std::string head = ReadHead(fd.get(), &rest);
  ASSERT_EQ(StatusOf(head), 101) << head;
  EXPECT_EQ(ToLower(HeaderValue(head, "Upgrade")), "websocket");
  EXPECT_EQ(HeaderValue(head, "Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_FALSE(raw_.saw_authorization_ws_.load());

  for (const std::string& msg : std::vector<std::string>{"hello router", std::string(3000, 'w')}) {
    ASSERT_TRUE(SendAll(fd.get(), Frame(1, msg, true)));
    auto [op, payload] = ReadFrame(fd.get(), &rest);
    EXPECT_EQ(op, 1);
    EXPECT_EQ(payload, msg);
  }
  ASSERT_TRUE(SendAll(fd.get(), Frame(8, "", true)));
  auto [op, payload] = ReadFrame(fd.get(), &rest);
  EXPECT_EQ(op, 8);
  // The sandbox hung up after the close frame: the router passes the EOF on.
  char c;
  pollfd p{fd.get(), POLLIN, 0};
  ASSERT_GT(::poll(&p, 1, 5000), 0);
  EXPECT_EQ(::recv(fd.get(), &c, 1, 0), 0);
}

TEST_F(RouterServerTest, OversizedHeadersGet431) {
  http::Request r = Req("GET", "/");
  r.headers.Set("X-Big-1", std::string(40 * 1024, 'a'));
  r.headers.Set("X-Big-2", std::string(40 * 1024, 'b'));
  EXPECT_EQ(Do(r).status, 431);
}

TEST_F(RouterServerTest, ManySmallHeadersAreBoundedToo) {
  // Beast consumes complete fields as they arrive; the total must still be capped.
  http::Request r = Req("GET", "/");
  for (int i = 0; i < 2000; ++i) r.headers.Add("X-H-" + std::to_string(i), std::string(40, 'h'));
  EXPECT_EQ(Do(r).status, 431);
  auto resp = Do(Req("GET", "/hugeheaders", "raw"));
  EXPECT_EQ(resp.status, 502);
}

TEST_F(RouterServerTest, FourThousandIdleConnectionsDoNotLockOutANewClient) {
  RouterOptions opts;
  opts.max_connections = 1024;
  StartRouter(opts);
  // 4,096 connections that never send a byte (the issue's lock-out: 120 s for everybody).
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 4096; ++i) {
    idle.push_back(Dial(router_->port()));
    ASSERT_TRUE(idle.back()) << "connect " << i;
  }
  auto start = std::chrono::steady_clock::now();
  auto resp = Do(Req("POST", "/execute"));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(resp.status, 200);
  EXPECT_LT(took, std::chrono::seconds(1));
  http::CoreStats st = router_->stats();
  EXPECT_LE(st.open, 1024u);
  EXPECT_GE(st.evicted, 4096u - 1024u);
  EXPECT_LE(st.workers, 8u) << "idle connections must not hold threads";
}

TEST_F(RouterServerTest, SlowLorisHeaderIsCutAtHeaderTimeout) {
  RouterOptions opts;
  opts.header_timeout = std::chrono::milliseconds(200);
  StartRouter(opts);
  UniqueFd fd = Dial(router_->port());
  ASSERT_TRUE(SendAll(fd.get(), "GET / HTTP/1.1\r\nX-A: "));
  auto start = std::chrono::steady_clock::now();
  pollfd p{fd.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(RouterServerTest, StopEndsOpenRelays) {
  UniqueFd fd = Dial(router_->port());
  ASSERT_TRUE(SendAll(fd.get(), "GET /ws HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer " +
                                    std::string(kToken) +
                                    "\r\nX-Sandbox-ID: raw\r\nConnection: Upgrade\r\n"
                                    "Upgrade: websocket\r\nSec-WebSocket-Key: x\r\n\r\n"));
  std::string rest;
  ASSERT_EQ(StatusOf(ReadHead(fd.get(), &rest)), 101);
  auto start = std::chrono::steady_clock::now();
  router_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

}  // namespace
}  // namespace asb::router
