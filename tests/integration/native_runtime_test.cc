// Isolation tests for NativeRuntime: real sandboxes (namespaces, overlay root, cgroups,
// seccomp) checked from inside with tests/testcases/sbx_probe. Needs root.
#include "runtime/native/native_runtime.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "base/file_util.h"
#include "base/json_util.h"
#include "base/strings.h"
#include "image/image_store.h"
#include "sys/process.h"
#include "tests/testing/test_util.h"

namespace asb::runtime::native {
namespace {

using namespace std::chrono_literals;
using asb::testing::BuiltBinary;
using asb::testing::TempDir;
using asb::testing::WaitFor;

// Loop devices whose backing file is under `dir` (an unnamed layer image shows as "dir/#N").
int LoopDevicesBackedFrom(const std::string& dir) {
  int n = 0;
  auto parts = ReadFile("/proc/partitions");
  if (!parts) return -1;
  for (const std::string& line : Split(*parts, '\n')) {
    auto f = Split(std::string(Trim(line)), ' ');
    if (f.empty() || !StartsWith(f.back(), "loop")) continue;
    auto backing = ReadFile("/sys/block/" + f.back() + "/loop/backing_file");
    if (backing && backing->find(dir + "/") != std::string::npos) ++n;
  }
  return n;
}

class NativeRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!asb::testing::IsRoot()) GTEST_SKIP() << "NativeRuntime tests need root";
    init_ = BuiltBinary("asb-init");
    probe_ = BuiltBinary("sbx_probe");
    ASSERT_FALSE(init_.empty()) << "build asb-init first";
    ASSERT_FALSE(probe_.empty()) << "build sbx_probe first";
    // The test image: a lower dir with the static probe at /probe.
    lower_ = tmp_.Sub("lower");
    for (const char* d : {"", "/proc", "/dev", "/app", "/etc", "/ro"}) {
      ASSERT_OK(MakeDirs(lower_ + d));
    }
    ASSERT_OK(MakeDirs(lower_ + "/tmp"));
    ::chmod((lower_ + "/tmp").c_str(), 01777);
    std::filesystem::copy_file(probe_, lower_ + "/probe");
    ::chmod((lower_ + "/probe").c_str(), 0755);
    host_ro_ = tmp_.Sub("host-ro");
    ASSERT_OK(MakeDirs(host_ro_));
    marker_ = tmp_.Sub("host-only-marker");
    asb::testing::WriteFileOrDie(marker_, "secret");
    ASSERT_OK_AND_ASSIGN(rt_, NewRuntime());
  }

  void TearDown() override {
    if (!rt_) return;
    for (const std::string& id : started_) EXPECT_OK(rt_->Stop(id, 0ms));
  }

  Result<std::unique_ptr<NativeRuntime>> NewRuntime() {
    NativeRuntimeOptions o;
    o.state_dir = tmp_.Sub("state");
    o.init_path = init_;
    return NativeRuntime::Create(o);
  }

  SandboxSpec Spec(std::vector<std::string> argv) {
    SandboxSpec s;
    s.id = "t-" + RandomHex(6);
    s.hostname = "sbx-host";
    s.rootfs.lower_dir = lower_;
    s.rootfs.binds.push_back({host_ro_, "/ro", true});
    s.process.argv = std::move(argv);
    s.process.env = {"PATH=/bin"};
    s.process.cwd = "/app";
    return s;
  }

  Status StartTracked(const SandboxSpec& s) {
    started_.push_back(s.id);
    return rt_->Start(s);
  }

  SandboxStatus WaitExited(const std::string& id) {
    SandboxStatus last;
    EXPECT_TRUE(WaitFor(
        [&] {
          auto st = rt_->Inspect(id);
          if (st) last = *st;
          return st && st->state == SandboxState::kExited;
        },
        20s))
        << "sandbox " << id << " did not exit";
    return last;
  }

  // The text of the last line the sandbox wrote (output.log is in CRI format).
  std::string LastLine(const std::string& id) {
    auto text = ReadFile(rt_->LogPath(id));
    EXPECT_TRUE(text.has_value());
    std::string all = text ? std::string(Trim(*text)) : "";
    std::string line = all.substr(all.rfind('\n') == std::string::npos ? 0 : all.rfind('\n') + 1);
    // "<time> <stream> <F|P> <text>"
    std::vector<std::string> f = Split(line, ' ');
    EXPECT_GE(f.size(), 4u) << "not a CRI log line: " << line;
    if (f.size() < 4) return "";
    EXPECT_TRUE(ParseRfc3339(f[0]).has_value()) << line;
    EXPECT_TRUE(f[1] == "stdout" || f[1] == "stderr") << line;
    return line.substr(f[0].size() + f[1].size() + f[2].size() + 3);
  }

  Json Output(const std::string& id) {
    std::string line = LastLine(id);
    auto j = ParseJson(line);
    EXPECT_TRUE(j.has_value()) << "output: " << line;
    return j ? *j : Json();
  }

  TempDir tmp_;
  std::string init_, probe_, lower_, host_ro_, marker_;
  std::unique_ptr<NativeRuntime> rt_;
  std::vector<std::string> started_;
};

TEST_F(NativeRuntimeTest, SandboxIsIsolated) {
  SandboxSpec s =
      Spec({"/probe", "check-isolation", "--exists", marker_, "--exists", "/probe", "--exists",
            "/proc/1", "--write", "/tmp", "--write", "/app", "--write", "/ro", "--write", "/"});
  ASSERT_OK(StartTracked(s));
  SandboxStatus st = WaitExited(s.id);
  EXPECT_EQ(st.exit_code, 0);
  Json facts = Output(s.id);
  EXPECT_EQ(facts.value("pid", 0), 1) << facts.dump();
  EXPECT_EQ(facts.value("uid", -1), 0);
  EXPECT_EQ(facts.value("hostname", ""), "sbx-host");
  EXPECT_EQ(facts["interfaces"], Json::array({"lo"}));
  EXPECT_EQ(facts.value("visible_pids", 0), 1) << "host processes visible";
  EXPECT_FALSE(facts["exists"].value(marker_, true)) << "host file visible";
  EXPECT_TRUE(facts["exists"].value("/probe", false));
  EXPECT_EQ(facts["write_errno"].value("/tmp", -1), 0);
  EXPECT_EQ(facts["write_errno"].value("/app", -1), 0);
  EXPECT_EQ(facts["write_errno"].value("/", -1), 0);  // the private overlay upper
  EXPECT_EQ(facts["write_errno"].value("/ro", -1), EROFS);
  EXPECT_EQ(facts.value("mount_errno", 0), EPERM);
  EXPECT_EQ(facts.value("ptrace_errno", 0), EPERM);
  EXPECT_EQ(facts.value("unshare_user_errno", 0), EPERM);
  for (const char* k : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(facts.value(k, ""), "0000000000000000") << k;
  }
  EXPECT_EQ(facts.value("Seccomp", ""), "2");
  EXPECT_EQ(facts.value("NoNewPrivs", ""), "1");
  EXPECT_EQ(facts["fds"], Json::array({0, 1, 2})) << "leaked fds";
  // Writes went to the private upper layer, never to the image.
  std::vector<std::string> lower_entries;
  for (auto& e : std::filesystem::directory_iterator(lower_)) {
    lower_entries.push_back(e.path().filename());
  }
  EXPECT_EQ(lower_entries.size(), 7u);
}

TEST_F(NativeRuntimeTest, CannotReachHostLoopback) {
  uint16_t port = 0;
  UniqueFd listener = asb::testing::ListenLoopback(&port);
  ASSERT_TRUE(listener.valid());
  SandboxSpec s = Spec({"/probe", "connect", "127.0.0.1", std::to_string(port)});
  ASSERT_OK(StartTracked(s));
  SandboxStatus st = WaitExited(s.id);
  EXPECT_EQ(st.exit_code, 1);
  EXPECT_EQ(Output(s.id).value("errno", 0), ECONNREFUSED);
}

TEST_F(NativeRuntimeTest, MemoryHogIsOomKilled) {
  SandboxSpec s = Spec({"/probe", "alloc-mb", "512"});
  s.limits.memory_bytes = 64 << 20;
  ASSERT_OK(StartTracked(s));
  SandboxStatus st = WaitExited(s.id);
  EXPECT_TRUE(st.oom_killed) << st.message;
  EXPECT_EQ(st.term_signal, SIGKILL);
}

TEST_F(NativeRuntimeTest, ForkBombStopsAtPidsLimit) {
  SandboxSpec s = Spec({"/probe", "fork-bomb", "500"});
  s.limits.pids = 32;
  ASSERT_OK(StartTracked(s));
  SandboxStatus st = WaitExited(s.id);
  EXPECT_EQ(st.exit_code, 0);
  Json out = Output(s.id);
  EXPECT_LT(out.value("forked", 1000), 32);
  EXPECT_EQ(out.value("errno", 0), EAGAIN);
  // The host is unaffected: we can still spawn processes.
  EXPECT_OK(sys::Spawn({.path = "/bin/true", .argv = {"true"}}).and_then(sys::WaitPid));
}

TEST_F(NativeRuntimeTest, DiskFillerStopsAtEphemeralStorage) {
  SandboxSpec s = Spec({"/probe", "fill-disk", "/tmp", "64"});
  s.limits.ephemeral_storage_bytes = 16 << 20;
  ASSERT_OK(StartTracked(s));
  WaitExited(s.id);
  Json out = Output(s.id);
  EXPECT_EQ(out.value("errno", 0), ENOSPC);
  EXPECT_LE(out.value("written_mb", 100), 16);
}

// The writable layer is a disk, not memory: filling it to the cap under a memory limit far
// below the cap ends in ENOSPC, not in the OOM killer, and leaves no loop device behind.
TEST_F(NativeRuntimeTest, WritableLayerIsChargedToDiskNotMemory) {
  SandboxSpec s = Spec({"/probe", "fill-disk", "/tmp", "200"});
  s.limits.ephemeral_storage_bytes = 96 << 20;
  s.limits.memory_bytes = 32 << 20;
  ASSERT_OK(StartTracked(s));
  SandboxStatus st = WaitExited(s.id);
  EXPECT_FALSE(st.oom_killed);
  Json out = Output(s.id);
  EXPECT_EQ(out.value("errno", 0), ENOSPC);
  EXPECT_GE(out.value("written_mb", 0), 80);
  EXPECT_LE(out.value("written_mb", 1000), 96);
  ASSERT_OK(rt_->Stop(s.id, 0ms));
  started_.clear();
  // The used layer went with Stop (its teardown runs in the pool's thread): the only loop devices
  // left from this state dir are the pool's ready ones, and none once the runtime is gone.
  ASSERT_TRUE(rt_->layer_pool().WaitIdle(30s));
  EXPECT_EQ(LoopDevicesBackedFrom(tmp_.Sub("state")),
            static_cast<int>(rt_->layer_pool().GetStats().ready));
  rt_.reset();
  EXPECT_EQ(LoopDevicesBackedFrom(tmp_.Sub("state")), 0);
}

// Inside, /proc/self/mountinfo names neither the state dir nor the sandbox id, and with a memory
// limit /proc/meminfo shows the limit, not the host's memory.
TEST_F(NativeRuntimeTest, ProcShowsNoHostPathsAndTheMemoryLimit) {
  for (const char* file : {"/proc/self/mountinfo", "/proc/meminfo"}) {
    SandboxSpec s = Spec({"/probe", "cat", file});
    s.limits.memory_bytes = 200 << 20;
    ASSERT_OK(StartTracked(s));
    SandboxStatus st = WaitExited(s.id);
    EXPECT_EQ(st.exit_code, 0) << file;
    auto text = ReadFile(rt_->SandboxDir(s.id) + "/output.log");
    ASSERT_TRUE(text.has_value());
    // (The test's own bind of a host dir at /ro shows its source, as binds do everywhere.)
    EXPECT_EQ(text->find(tmp_.Sub("state")), std::string::npos) << *text;
    EXPECT_EQ(text->find(lower_), std::string::npos) << *text;
    EXPECT_EQ(text->find(s.id), std::string::npos) << *text;
    if (std::string(file) == "/proc/meminfo") {
      EXPECT_NE(text->find("MemTotal:         204800 kB"), std::string::npos) << *text;
    } else {
      EXPECT_NE(text->find("lowerdir=lower,upperdir=upper,workdir=work"), std::string::npos)
          << *text;
    }
  }
}

// CPU seconds used so far by every process in the sandbox's cgroup (utime+stime of each
// process, which includes all its threads).
double CgroupCpuSeconds(const sys::Cgroup& cg) {
  double total = 0;
  auto pids = cg.Pids();
  if (!pids) return 0;
  for (pid_t p : *pids) {
    auto stat = ReadFile("/proc/" + std::to_string(p) + "/stat");
    if (!stat) continue;
    std::vector<std::string> f = Split(stat->substr(stat->rfind(')') + 2), ' ');
    if (f.size() > 12) total += static_cast<double>(*ParseInt(f[11]) + *ParseInt(f[12]));
  }
  return total / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// limits.cpu is a CFS quota: 4 spinning threads under a 500m limit use about half a core, and
// requests.cpu becomes the cgroup's share.
TEST_F(NativeRuntimeTest, CpuLimitIsAQuotaAndTheRequestAShare) {
  SandboxSpec s = Spec({"/probe", "spin", "4", "30"});
  s.limits.cpu_millis = 500;
  s.limits.cpu_request_millis = 250;
  ASSERT_OK(StartTracked(s));
  ASSERT_OK_AND_ASSIGN(sys::Cgroup cg, rt_->CgroupOf(s.id));
  if (!cg.is_v2()) {
    auto shares = ReadFile("/sys/fs/cgroup/cpu/asb/" + s.id + "/cpu.shares");
    ASSERT_TRUE(shares.has_value());
    EXPECT_EQ(Trim(*shares), "256");
    auto quota = ReadFile("/sys/fs/cgroup/cpu/asb/" + s.id + "/cpu.cfs_quota_us");
    ASSERT_TRUE(quota.has_value());
    EXPECT_EQ(Trim(*quota), "50000");
  }
  std::this_thread::sleep_for(300ms);  // let the threads start
  double before = CgroupCpuSeconds(cg);
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(1500ms);
  double used = CgroupCpuSeconds(cg) - before;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GT(used, 0.1 * wall) << "the spinner did not run";
  EXPECT_LE(used, 0.6 * wall) << "500m limit, but used " << used << " CPU s in " << wall << " s";
}

TEST_F(NativeRuntimeTest, OutputLogIsCapped) {
  SandboxSpec s = Spec({"/probe", "spew", "24"});
  ASSERT_OK(StartTracked(s));
  SandboxStatus st = WaitExited(s.id);
  EXPECT_EQ(st.exit_code, 0);
  struct stat cur, old;
  ASSERT_EQ(::stat(rt_->LogPath(s.id).c_str(), &cur), 0);
  ASSERT_EQ(::stat((rt_->LogPath(s.id) + ".1").c_str(), &old), 0) << "never rotated";
  EXPECT_GT(cur.st_size, 0);
  EXPECT_LE(cur.st_size + old.st_size, 8 << 20) << "the sandbox's output grew past the cap";
  // The newest output is kept: the last line is a whole line of the spew.
  EXPECT_EQ(LastLine(s.id), std::string(1023, 'x'));
  EXPECT_GE(old.st_size, 3 << 20) << "the older half was not kept";
}

TEST_F(NativeRuntimeTest, DialPortAndExec) {
  SandboxSpec s = Spec({"/probe", "serve", "8888"});
  ASSERT_OK(StartTracked(s));
  ASSERT_OK_AND_ASSIGN(SandboxStatus st, rt_->Inspect(s.id));
  EXPECT_EQ(st.state, SandboxState::kRunning);
  UniqueFd conn;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto fd = rt_->DialPort(s.id, 8888);
        if (fd) conn = std::move(*fd);
        return fd.has_value();
      },
      5s));
  std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(conn.get(), req.data(), req.size()), static_cast<ssize_t>(req.size()));
  std::string resp;
  char buf[512];
  ssize_t n;
  while ((n = ::read(conn.get(), buf, sizeof(buf))) > 0) resp.append(buf, n);
  EXPECT_NE(resp.find("200 OK"), std::string::npos) << resp;
  EXPECT_TRUE(EndsWith(resp, "ok\n"));
  EXPECT_ERROR_CODE(rt_->DialPort(s.id, 9), Code::kUnavailable);

  ProcessSpec p{.argv = {"/probe", "check-isolation"}, .env = {}, .cwd = "/app"};
  ASSERT_OK_AND_ASSIGN(ExecResult r, rt_->Exec(s.id, p, 10s));
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  ASSERT_OK_AND_ASSIGN(Json facts, ParseJson(r.stdout_data));
  EXPECT_GT(facts.value("pid", 0), 1);
  EXPECT_EQ(facts.value("hostname", ""), "sbx-host");
  EXPECT_EQ(facts.value("visible_pids", 0), 2);  // the server and the probe
  EXPECT_EQ(facts.value("CapEff", ""), "0000000000000000");
  EXPECT_EQ(facts.value("Seccomp", ""), "2");

  ProcessSpec bad{.argv = {"/probe", "no-such-command"}};
  ASSERT_OK_AND_ASSIGN(ExecResult r2, rt_->Exec(s.id, bad, 10s));
  EXPECT_EQ(r2.exit_code, 2);
  EXPECT_NE(r2.stderr_data.find("usage"), std::string::npos);

  ProcessSpec slow{.argv = {"/probe", "sleep"}};
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_ERROR_CODE(rt_->Exec(s.id, slow, 300ms), Code::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_ERROR_CODE(rt_->Exec(s.id, ProcessSpec{.argv = {"/nonexistent"}}, 5s), Code::kNotFound);
}

int CountMountsMentioning(const std::string& needle) {
  auto text = ReadFile("/proc/self/mountinfo");
  int n = 0;
  for (const std::string& line : Split(text.value_or(""), '\n')) {
    n += line.find(needle) != std::string::npos;
  }
  return n;
}

TEST_F(NativeRuntimeTest, StopLeavesNothingBehind) {
  SandboxSpec s = Spec({"/probe", "sleep"});
  ASSERT_OK(StartTracked(s));
  ASSERT_OK_AND_ASSIGN(sys::Cgroup cg, rt_->CgroupOf(s.id));
  ASSERT_OK_AND_ASSIGN(std::vector<pid_t> pids, cg.Pids());
  EXPECT_EQ(pids.size(), 2u);  // the shim and the sandbox init
  for (const auto& d : cg.dirs()) EXPECT_TRUE(PathExists(d)) << d;
  std::string dir = rt_->SandboxDir(s.id);
  EXPECT_TRUE(PathExists(dir));
  EXPECT_EQ(CountMountsMentioning(dir), 0) << "sandbox mounts leaked into the host namespace";
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> ids, rt_->List());
  EXPECT_EQ(ids, std::vector<std::string>{s.id});

  ASSERT_OK(rt_->Stop(s.id, 2s));
  // Killed processes are reaped by their parent (the host's init for the shim), so give that
  // a moment.
  for (pid_t p : pids) {
    EXPECT_TRUE(WaitFor([&] { return !sys::ProcStartTime(p).has_value(); }, 5s))
        << "process " << p
        << " survived Stop: " << ReadFile("/proc/" + std::to_string(p) + "/stat").value_or("");
  }
  for (const auto& d : cg.dirs()) EXPECT_FALSE(PathExists(d)) << d;
  EXPECT_FALSE(PathExists(dir));
  EXPECT_EQ(CountMountsMentioning(dir), 0);
  EXPECT_ERROR_CODE(rt_->Inspect(s.id), Code::kNotFound);
  ASSERT_OK_AND_ASSIGN(ids, rt_->List());
  EXPECT_TRUE(ids.empty());
  EXPECT_OK(rt_->Stop(s.id, 0ms));  // idempotent
  // Its writable layer went too: what is left are the pool's ready layers.
  ASSERT_TRUE(rt_->layer_pool().WaitIdle(30s));
  EXPECT_EQ(LoopDevicesBackedFrom(tmp_.Sub("state")),
            static_cast<int>(rt_->layer_pool().GetStats().ready));
}

TEST_F(NativeRuntimeTest, FreshRuntimeFindsAndStopsLeftovers) {
  SandboxSpec s = Spec({"/probe", "serve", "8888"});
  ASSERT_OK(StartTracked(s));
  rt_.reset();  // the daemon "restarts"; the sandbox keeps running
  ASSERT_OK_AND_ASSIGN(rt_, NewRuntime());
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> ids, rt_->List());
  EXPECT_EQ(ids, std::vector<std::string>{s.id});
  ASSERT_OK_AND_ASSIGN(SandboxStatus st, rt_->Inspect(s.id));
  EXPECT_EQ(st.state, SandboxState::kRunning);
  EXPECT_TRUE(WaitFor([&] { return rt_->DialPort(s.id, 8888).has_value(); }, 5s));
  // A second sandbox must not reuse the leftover's uid range.
  SandboxSpec s2 = Spec({"/probe", "sleep"});
  ASSERT_OK(StartTracked(s2));
  ASSERT_OK(rt_->Stop(s.id, 1s));
  EXPECT_FALSE(PathExists(rt_->SandboxDir(s.id)));
  // The leftover's layer was held by its mount namespace alone (the old daemon's fd closed):
  // it went with the namespace. Left: the pool's ready layers and s2's.
  ASSERT_TRUE(rt_->layer_pool().WaitIdle(30s));
  EXPECT_EQ(LoopDevicesBackedFrom(tmp_.Sub("state")),
            static_cast<int>(rt_->layer_pool().GetStats().ready) + 1);
}

// A cpu request without a limit (Burstable) gets a group next to /asb (docs/cpu.md) with the
// request as its share; a restarted runtime finds it there and removes it.
TEST_F(NativeRuntimeTest, BurstableGroupSitsNextToTheParentAndIsRecovered) {
  SandboxSpec s = Spec({"/probe", "sleep"});
  s.limits.cpu_request_millis = 250;
  ASSERT_OK(StartTracked(s));
  ASSERT_OK_AND_ASSIGN(sys::Cgroup cg, rt_->CgroupOf(s.id));
  for (const auto& d : cg.dirs()) {
    EXPECT_NE(d.find("/asb-burstable-" + s.id), std::string::npos) << d;
    EXPECT_TRUE(PathExists(d)) << d;
  }
  if (!cg.is_v2()) {
    auto shares = ReadFile("/sys/fs/cgroup/cpu/asb-burstable-" + s.id + "/cpu.shares");
    ASSERT_TRUE(shares.has_value());
    EXPECT_EQ(Trim(*shares), "256");
  }
  rt_.reset();  // the daemon "restarts"; the sandbox keeps running
  ASSERT_OK_AND_ASSIGN(rt_, NewRuntime());
  ASSERT_OK_AND_ASSIGN(sys::Cgroup reopened, rt_->CgroupOf(s.id));
  EXPECT_EQ(reopened.dirs(), cg.dirs());
  ASSERT_OK(rt_->Stop(s.id, 1s));
  for (const auto& d : cg.dirs()) EXPECT_FALSE(PathExists(d)) << d;
}

TEST_F(NativeRuntimeTest, FailedStartNamesTheStepAndLeavesNothing) {
  SandboxSpec s = Spec({"/no/such/binary"});
  auto r = rt_->Start(s);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInternal);
  EXPECT_NE(r.error().message.find("setup step"), std::string::npos) << r.error().message;
  EXPECT_FALSE(PathExists(rt_->SandboxDir(s.id)));
  ASSERT_OK_AND_ASSIGN(sys::Cgroup cg, rt_->CgroupOf(s.id));
  for (const auto& d : cg.dirs()) EXPECT_FALSE(PathExists(d)) << d;
  ASSERT_TRUE(rt_->layer_pool().WaitIdle(30s));
  EXPECT_EQ(LoopDevicesBackedFrom(tmp_.Sub("state")),
            static_cast<int>(rt_->layer_pool().GetStats().ready));

  SandboxSpec bad = Spec({"/probe", "sleep"});
  bad.rootfs.lower_dir = tmp_.Sub("missing");
  EXPECT_ERROR_CODE(rt_->Start(bad), Code::kInvalidArgument);
  EXPECT_ERROR_CODE(rt_->Start(Spec({})), Code::kInvalidArgument);
  SandboxSpec bad_id = Spec({"/probe"});
  bad_id.id = "Bad/Id";
  EXPECT_ERROR_CODE(rt_->Start(bad_id), Code::kInvalidArgument);
}

TEST_F(NativeRuntimeTest, DuplicateIdIsRejected) {
  SandboxSpec s = Spec({"/probe", "sleep"});
  ASSERT_OK(StartTracked(s));
  EXPECT_ERROR_CODE(rt_->Start(s), Code::kAlreadyExists);
}

TEST_F(NativeRuntimeTest, PythonRuntimeImageRunsHostPython) {
  if (!PathExists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3 on this host";
  // Any executable stands in for the agent: this checks the image's root, not the agent.
  image::ImageStore store(tmp_.Sub("state"), {.agent_path = probe_});
  ASSERT_OK_AND_ASSIGN(image::ResolvedImage img, store.Resolve("python-runtime"));
  SandboxSpec s = Spec({"python3", "-c",
                        "import os,socket; open('/app/x','w').write('1'); "
                        "print(os.getcwd(), socket.gethostname(), os.getuid())"});
  s.rootfs = img.rootfs;
  s.process.env = img.env;
  s.process.cwd = img.working_dir;
  ASSERT_OK(StartTracked(s));
  SandboxStatus st = WaitExited(s.id);
  auto out = ReadFile(rt_->SandboxDir(s.id) + "/output.log");
  EXPECT_EQ(st.exit_code, 0) << out.value_or("");
  EXPECT_EQ(LastLine(s.id), "/app sbx-host 0");
  EXPECT_FALSE(PathExists(img.rootfs.lower_dir + "/app/x")) << "write reached the image";
}

}  // namespace
}  // namespace asb::runtime::native
