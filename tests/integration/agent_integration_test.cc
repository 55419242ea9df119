// Drives the real build/bin/asb-agent binary over HTTP on 127.0.0.1: every endpoint of the
// python-runtime contract, a 50 MiB upload/download round trip, path escapes, bad input, the
// static link, the pid-1 init (inside a new pid namespace) and /execute latency.
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "base/file_util.h"
#include "base/json_util.h"
#include "base/strings.h"
#include "http/client.h"
#include "tests/testing/test_util.h"

extern char** environ;

namespace asb {
namespace {

using std::chrono::milliseconds;
using testing::TempDir;
using testing::WaitFor;

// One asb-agent process (optionally behind a wrapper such as `unshare --pid --fork`).
class AgentProcess {
 public:
  ~AgentProcess() { Kill(); }

  // Starts the agent with SANDBOX_BASE_DIR=base_dir and waits until it has written its port.
  // `wrapper` runs first with the agent's argv appended; `binary` and `port_file_arg` replace
  // the agent's path and --port-file argument as the wrapper sees them (e.g. inside a chroot);
  // the port is always read from work_dir/port.
  ::testing::AssertionResult Start(const std::string& work_dir, const std::string& base_dir,
                                   std::vector<std::string> wrapper = {},
                                   std::vector<std::string> extra_env = {}, std::string binary = "",
                                   std::string port_file_arg = "") {
    if (binary.empty()) binary = testing::BuiltBinary("asb-agent");
    if (binary.empty()) return ::testing::AssertionFailure() << "asb-agent is not built";
    port_file_ = work_dir + "/port";
    if (port_file_arg.empty()) port_file_arg = port_file_;
    log_file_ = work_dir + "/agent.log";
    ::unlink(port_file_.c_str());
    std::vector<std::string> args = std::move(wrapper);
    args.push_back(binary);
    for (const char* a : {"--host", "127.0.0.1", "--port", "0"}) args.push_back(a);
    args.push_back("--port-file");
    args.push_back(port_file_arg);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!StartsWith(*e, "SANDBOX_")) env.emplace_back(*e);
    }
    env.push_back("SANDBOX_BASE_DIR=" + base_dir);
    for (std::string& e : extra_env) env.push_back(std::move(e));
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = ::posix_spawnp(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return ::testing::AssertionFailure() << "spawn " << argv[0] << ": " << rc;
    bool up = WaitFor(
        [&] {
          auto text = ReadFile(port_file_);
          if (!text) return false;
          auto p = ParseInt(Trim(*text));
          if (p && *p > 0) port_ = static_cast<uint16_t>(*p);
          return port_ != 0;
        },
        std::chrono::seconds(10));
    if (!up) return ::testing::AssertionFailure() << "agent did not start; log:\n" << Log();
    return ::testing::AssertionSuccess();
  }

  bool Running() const {
    int status;
    return pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == 0;
  }
  // Sends SIGTERM and waits up to 10 s; returns the wait status or -1.
  int Terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = -1;
    bool done = WaitFor([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; },
                        std::chrono::seconds(10));
    if (!done) return -1;
    pid_ = -1;
    return status;
  }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string Log() const { return ReadFile(log_file_).value_or("(no log)"); }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string port_file_;
  std::string log_file_;
};

http::Request Req(std::string method, std::string target, std::string body = "") {
  http::Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  return r;
}

http::Request Execute(const std::string& command) {
  http::Request r = Req("POST", "/execute", DumpJson(Json{{"command", command}}));
  r.headers.Set("Content-Type", "application/json");
  return r;
}

http::Request Upload(const std::string& filename, const std::string& data) {
  const std::string boundary = "asbBoundary" + RandomHex(8);
  std::string body;
  body.reserve(data.size() + 512);
  body += "--" + boundary + "\r\n";
  body += "Content-Disposition: form-data; name=\"file\"; filename=\"" + filename + "\"\r\n";
  body += "Content-Type: application/octet-stream\r\n\r\n";
  body += data;
  body += "\r\n--" + boundary + "--\r\n";
  http::Request r = Req("POST", "/upload", std::move(body));
  r.headers.Set("Content-Type", "multipart/form-data; boundary=" + boundary);
  return r;
}

Json JsonBody(const http::ClientResponse& r) {
  auto j = ParseJson(r.body);
  EXPECT_TRUE(j.has_value()) << "not JSON: " << r.body.substr(0, 200);
  return j.value_or(Json());
}

class AgentIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = tmp_.Sub("app");  // does not exist yet: the agent creates it
    ASSERT_TRUE(agent_.Start(tmp_.path(), base_));
    auto c = http::Client::Connect("127.0.0.1", agent_.port());
    ASSERT_TRUE(c.has_value()) << c.error().message;
    client_.emplace(std::move(*c));
    client_->SetReadTimeout(std::chrono::seconds(60));
  }
  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "agent log:\n%s\n", agent_.Log().c_str());
  }
  http::ClientResponse Do(const http::Request& req) {
    auto r = client_->Do(req);
    EXPECT_TRUE(r.has_value()) << req.method << " " << req.target << ": "
                               << (r ? "" : r.error().message);
    return r.value_or(http::ClientResponse{});
  }

  TempDir tmp_;
  std::string base_;
  AgentProcess agent_;
  std::optional<http::Client> client_;
};

TEST_F(AgentIntegrationTest, HealthAndExecute) {
  auto r = Do(Req("GET", "/"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(JsonBody(r), Json({{"status", "ok"}, {"message", "Sandbox Runtime is active."}}));
  EXPECT_TRUE(PathExists(base_));

  r = Do(Execute("echo hi"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(JsonBody(r), Json({{"stdout", "hi\n"}, {"stderr", ""}, {"exit_code", 0}}));

  r = Do(Execute("pwd"));
  EXPECT_EQ(JsonBody(r)["stdout"], base_ + "\n");

  r = Do(Execute("sh -c 'echo oops >&2; exit 4'"));
  EXPECT_EQ(JsonBody(r), Json({{"stdout", ""}, {"stderr", "oops\n"}, {"exit_code", 4}}));

  r = Do(Execute("no-such-binary-xyz"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(JsonBody(r)["exit_code"], 1);
  EXPECT_EQ(JsonBody(r)["stderr"],
            "Failed to execute command: [Errno 2] No such file or directory: 'no-such-binary-xyz'");

  http::Request timed = Req("POST", "/execute", R"({"command": "sleep 30", "timeout": 0.3})");
  r = Do(timed);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(JsonBody(r)["stderr"],
            "Failed to execute command: Command '['sleep', '30']' timed out after 0.3 seconds");
}

TEST_F(AgentIntegrationTest, ExecTimeoutFromEnvironment) {
  AgentProcess short_timeout;
  TempDir dir;
  ASSERT_TRUE(
      short_timeout.Start(dir.path(), dir.Sub("app"), {}, {"SANDBOX_EXEC_TIMEOUT_SECONDS=0.4"}));
  auto r = http::Fetch("127.0.0.1", short_timeout.port(), Execute("sleep 30"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(JsonBody(*r)["stderr"],
            "Failed to execute command: Command '['sleep', '30']' timed out after 0.4 seconds");
}

TEST_F(AgentIntegrationTest, Upload50MiBAndDownloadByteExact) {
  std::string data(50u << 20, '\0');
  std::mt19937_64 rng(42);
  for (size_t i = 0; i + 8 <= data.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(data.data() + i, &v, 8);
  }
  auto r = Do(Upload("big/blob.bin", data));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonBody(r), Json({{"message", "File 'big/blob.bin' uploaded successfully."}}));

  r = Do(Req("GET", "/download/big/blob.bin"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.Get("Content-Type"), "application/octet-stream");
  ASSERT_EQ(r.body.size(), data.size());
  EXPECT_TRUE(r.body == data) << "downloaded bytes differ";
  EXPECT_EQ(ReadFile(base_ + "/big/blob.bin").value_or("") == data, true);
}

TEST_F(AgentIntegrationTest, ListAndExists) {
  ASSERT_EQ(Do(Upload("d/a.txt", "aaa")).status, 200);
  ASSERT_EQ(Do(Upload("d/sub/b.txt", "b")).status, 200);
  auto r = Do(Req("GET", "/list/d"));
  ASSERT_EQ(r.status, 200);
  Json list = JsonBody(r);
  ASSERT_EQ(list.size(), 2u) << r.body;
  EXPECT_EQ(list[0]["name"], "a.txt");
  EXPECT_EQ(list[0]["size"], 3);
  EXPECT_EQ(list[0]["type"], "file");
  EXPECT_EQ(list[1]["name"], "sub");
  EXPECT_EQ(list[1]["type"], "directory");
  EXPECT_TRUE(list[1]["mod_time"].is_number());

  r = Do(Req("GET", "/list/d/a.txt"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(JsonBody(r), Json({{"message", "Path is not a directory"}}));

  EXPECT_EQ(JsonBody(Do(Req("GET", "/exists/d/sub/b.txt"))),
            Json({{"path", "d/sub/b.txt"}, {"exists", true}}));
  EXPECT_EQ(JsonBody(Do(Req("GET", "/exists/d/nope"))),
            Json({{"path", "d/nope"}, {"exists", false}}));
  r = Do(Req("GET", "/download/d/nope"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(JsonBody(r), Json({{"message", "File not found"}}));
}

TEST_F(AgentIntegrationTest, EscapesAreDeniedAndSymlinksDoNotLeak) {
  testing::WriteFileOrDie(tmp_.Sub("secret.txt"), "top secret");
  for (const char* target : {"/download/../secret.txt", "/download/%2e%2e/secret.txt", "/list/..",
                             "/exists/../secret.txt", "/download//etc/passwd"}) {
    auto r = Do(Req("GET", target));
    EXPECT_EQ(r.status, 403) << target;
    EXPECT_EQ(JsonBody(r), Json({{"message", "Access denied"}})) << target;
  }
  auto r = Do(Upload("../escaped.txt", "x"));
  EXPECT_EQ(r.status, 403);
  EXPECT_FALSE(PathExists(tmp_.Sub("escaped.txt")));

  // A command inside the sandbox plants symlinks to host files; downloads must not follow them.
  r = Do(Execute("ln -s /etc/passwd passwd"));
  ASSERT_EQ(JsonBody(r)["exit_code"], 0);
  r = Do(Execute("ln -s " + tmp_.Sub("secret.txt") + " secret"));
  ASSERT_EQ(JsonBody(r)["exit_code"], 0);
  for (const char* target : {"/download/passwd", "/download/secret"}) {
    r = Do(Req("GET", target));
    EXPECT_NE(r.status, 200) << target;
    EXPECT_EQ(r.body.find("root:"), std::string::npos);
    EXPECT_EQ(r.body.find("top secret"), std::string::npos);
  }
}

TEST_F(AgentIntegrationTest, BadInputGetsJsonErrorsAndServerStaysUp) {
  auto r = Do(Req("POST", "/execute", "{not json"));
  EXPECT_EQ(r.status, 422);
  EXPECT_TRUE(JsonBody(r).contains("detail"));
  r = Do(Req("POST", "/execute", R"({"cmd": "ls"})"));
  EXPECT_EQ(r.status, 422);
  r = Do(Req("POST", "/execute", R"({"command": ["ls"]})"));
  EXPECT_EQ(r.status, 422);
  r = Do(Execute("echo 'unterminated"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(JsonBody(r)["stderr"], "Failed to execute command: No closing quotation");
  http::Request bad_upload = Req("POST", "/upload", "garbage");
  bad_upload.headers.Set("Content-Type", "multipart/form-data; boundary=zz");
  EXPECT_EQ(Do(bad_upload).status, 400);
  r = Do(Req("GET", "/no/such/route"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(JsonBody(r), Json({{"detail", "Not Found"}}));
  r = Do(Req("PUT", "/execute"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(JsonBody(r), Json({{"detail", "Method Not Allowed"}}));

  r = Do(Req("GET", "/"));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(agent_.Running());
}

TEST_F(AgentIntegrationTest, SigtermStopsCleanly) {
  int status = agent_.Terminate();
  ASSERT_NE(status, -1) << "agent did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

struct Percentiles {
  double p50, p90, p99, max;
};

// Sends `req` kWarmup + kRuns times on one keep-alive connection; latencies of the last kRuns.
Percentiles Measure(http::Client& client, const http::Request& req, int runs) {
  const int kWarmup = 50;
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(runs));
  for (int i = 0; i < kWarmup + runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto r = client.Do(req);
    auto end = std::chrono::steady_clock::now();
    EXPECT_TRUE(r.has_value() && r->status == 200);
    if (i >= kWarmup) ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[ms.size() * 9 / 10], ms[ms.size() * 99 / 100], ms.back()};
}

// Round-trip latency of POST /execute {"command": "echo hi"} on one keep-alive connection,
// next to GET / (the HTTP path alone) so the process-spawn share is visible.
TEST_F(AgentIntegrationTest, ExecuteLatency) {
  const int kRuns = 1000;
  Percentiles health = Measure(*client_, Req("GET", "/"), kRuns);
  Percentiles exec = Measure(*client_, Execute("echo hi"), kRuns);
  std::printf(
      "asb-agent loopback keep-alive, %d runs each:\n"
      "  GET /                     p50=%.3f ms p90=%.3f ms p99=%.3f ms max=%.3f ms\n"
      "  POST /execute 'echo hi'   p50=%.3f ms p90=%.3f ms p99=%.3f ms max=%.3f ms\n",
      kRuns, health.p50, health.p90, health.p99, health.max, exec.p50, exec.p90, exec.p99,
      exec.max);
  RecordProperty("execute_p50_ms", std::to_string(exec.p50));
  RecordProperty("execute_p99_ms", std::to_string(exec.p99));
  // Loose bound so a loaded CI machine doesn't flake; the goal (p50 <= 1 ms) is reported above.
  EXPECT_LT(exec.p50, 20.0);
}

TEST(AgentBinaryTest, IsStaticallyLinked) {
  std::string binary = testing::BuiltBinary("asb-agent");
  ASSERT_FALSE(binary.empty()) << "asb-agent is not built";
  auto elf = ReadFile(binary);
  ASSERT_TRUE(elf.has_value());
  ASSERT_GE(elf->size(), sizeof(Elf64_Ehdr));
  Elf64_Ehdr eh;
  std::memcpy(&eh, elf->data(), sizeof(eh));
  ASSERT_EQ(std::memcmp(eh.e_ident, ELFMAG, SELFMAG), 0);
  ASSERT_EQ(eh.e_ident[EI_CLASS], ELFCLASS64);
  bool has_dynamic = false;
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    size_t off = eh.e_phoff + static_cast<size_t>(i) * eh.e_phentsize;
    ASSERT_LE(off + sizeof(ph), elf->size());
    std::memcpy(&ph, elf->data() + off, sizeof(ph));
    EXPECT_NE(ph.p_type, static_cast<uint32_t>(PT_INTERP)) << "asb-agent has a dynamic loader";
    if (ph.p_type == PT_DYNAMIC) has_dynamic = true;
  }
  EXPECT_FALSE(has_dynamic) << "asb-agent has a dynamic section (shared libraries)";
}

// Child pids of `pid` (from /proc/<pid>/task/<pid>/children).
std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> out;
  std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children";
  std::istringstream in(ReadFile(path).value_or(""));
  pid_t c;
  while (in >> c) out.push_back(c);
  return out;
}

// As pid 1 of a new pid namespace (as in a sandbox) the agent runs a minimal init: it reaps
// orphaned background processes and forwards SIGTERM to the server.
TEST(AgentPid1Test, ReapsOrphansAndForwardsSigterm) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root for a new pid namespace (unshare --pid)";
  if (::access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "needs util-linux unshare";
  TempDir tmp;
  AgentProcess agent;
  ASSERT_TRUE(agent.Start(tmp.path(), tmp.Sub("app"),
                          {"/usr/bin/unshare", "--pid", "--fork", "--kill-child"}));
  // unshare -> init (pid 1 inside) -> server.
  pid_t init = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto c = ChildrenOf(agent.pid());
        if (c.size() == 1) init = c[0];
        return init != 0;
      },
      std::chrono::seconds(5)));
  ASSERT_TRUE(WaitFor([&] { return ChildrenOf(init).size() == 1; }, std::chrono::seconds(5)));
  pid_t server = ChildrenOf(init)[0];

  // The background sleep outlives its shell, is reparented to the init and must be reaped
  // when it exits (a zombie would stay in the children list).
  auto r = http::Fetch("127.0.0.1", agent.port(),
                       Execute("sh -c 'sleep 0.2 > /dev/null 2>&1 & echo started'"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(JsonBody(*r)["stdout"], "started\n");
  EXPECT_TRUE(WaitFor(
      [&] {
        auto c = ChildrenOf(init);
        return c.size() == 1 && c[0] == server;
      },
      std::chrono::seconds(5)))
      << "init did not reap the orphan; children: " << ChildrenOf(init).size();

  // SIGTERM to the init reaches the server, which exits 0; the init exits with its status.
  ASSERT_EQ(::kill(init, SIGTERM), 0);
  int status = -1;
  ASSERT_TRUE(WaitFor([&] { return ::waitpid(agent.pid(), &status, WNOHANG) == agent.pid(); },
                      std::chrono::seconds(10)))
      << "agent in pid namespace did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(agent.Log().find("asb-agent stopping"), std::string::npos) << agent.Log();
}

// The agent must work in a root filesystem holding nothing but itself and the host's /usr: no
// /dev, /proc, /tmp or /etc (static binary, no NSS, stdin without /dev/null, no /proc needed).
TEST(AgentBareRootfsTest, ServesAllEndpointsInChrootWithOnlyUsr) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root for a mount namespace and chroot";
  if (::access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "needs util-linux unshare";
  std::string binary = testing::BuiltBinary("asb-agent");
  ASSERT_FALSE(binary.empty());
  TempDir tmp;
  const std::string root = tmp.Sub("root");
  ASSERT_TRUE(MakeDirs(root + "/usr").has_value());
  ASSERT_TRUE(MakeDirs(root + "/sbin-agent").has_value());
  auto bytes = ReadFile(binary);
  ASSERT_TRUE(bytes.has_value());
  testing::WriteFileOrDie(root + "/sbin-agent/asb-agent", *bytes, 0755);
  // Merged-/usr links so dynamically linked commands from the host's /usr find their loader.
  for (const char* link : {"bin", "lib", "lib64"}) {
    ASSERT_EQ(::symlink((std::string("usr/") + link).c_str(), (root + "/" + link).c_str()), 0);
  }
  const std::string script =
      "mount --bind /usr \"$R/usr\" && mount -o remount,bind,ro \"$R/usr\" "
      "&& exec chroot \"$R\" \"$@\"";
  AgentProcess agent;
  ASSERT_TRUE(agent.Start(root, "/app",
                          {"/usr/bin/unshare", "--mount", "--propagation", "private",
                           "--kill-child", "/bin/sh", "-c", script, "sh"},
                          {"R=" + root}, "/sbin-agent/asb-agent", "/port"));
  auto client = http::Client::Connect("127.0.0.1", agent.port());
  ASSERT_TRUE(client.has_value());
  auto r = client->Do(Execute("ls /"));
  ASSERT_TRUE(r.has_value());
  Json j = JsonBody(*r);
  EXPECT_EQ(j["exit_code"], 0) << r->body;
  EXPECT_NE(j["stdout"].get<std::string>().find("sbin-agent"), std::string::npos) << r->body;
  EXPECT_EQ(JsonBody(*client->Do(Execute("cat")))["exit_code"], 0);  // stdin is at EOF
  r = client->Do(Upload("x/y.txt", "payload"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(ReadFile(root + "/app/x/y.txt").value_or(""), "payload");
  r = client->Do(Req("GET", "/download/x/y.txt"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "payload");
  EXPECT_EQ(JsonBody(*client->Do(Req("GET", "/list/x")))[0]["name"], "y.txt");
  // ~AgentProcess SIGKILLs unshare; --kill-child takes the agent (and its mount ns) with it.
}

}  // namespace
}  // namespace asb
