// Integration tests for the gVisor runtime: real runsc, real namespaces, mounts and cgroups.
// Label: privileged. Skips loudly when not root or when runsc is not on PATH.
#include "runtime/runsc/runsc_runtime.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "base/file_util.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "tests/testing/test_util.h"

namespace asb::runtime::runsc {
namespace {

using namespace std::chrono_literals;

using asb::testing::WaitFor;

bool RunscOnPath() {
  const char* path = std::getenv("PATH");
  for (const std::string& dir : Split(path ? path : "", ':')) {
    if (!dir.empty() && ::access((dir + "/runsc").c_str(), X_OK) == 0) return true;
  }
  return false;
}

// Processes whose command line mentions `needle` (runsc, gofer and sandbox carry the root dir).
int CountProcessesMentioning(const std::string& needle) {
  int n = 0;
  DIR* d = ::opendir("/proc");
  while (dirent* e = d ? ::readdir(d) : nullptr) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    auto cmd = ReadFile(std::string("/proc/") + e->d_name + "/cmdline");
    if (cmd && cmd->find(needle) != std::string::npos) ++n;
  }
  if (d) ::closedir(d);
  return n;
}

int CountMountsUnder(const std::string& dir) {
  auto mi = ReadFile("/proc/self/mountinfo");
  int n = 0;
  for (const std::string& line : Split(mi ? *mi : "", '\n')) {
    if (line.find(" " + dir + "/") != std::string::npos) ++n;
  }
  return n;
}

// Loop devices whose backing file was under `dir` (the writable layers' images).
int LoopDevicesBackedFrom(const std::string& dir) {
  int n = 0;
  DIR* d = ::opendir("/sys/block");
  while (dirent* e = d ? ::readdir(d) : nullptr) {
    if (std::string(e->d_name).rfind("loop", 0) != 0) continue;
    auto backing = ReadFile(std::string("/sys/block/") + e->d_name + "/loop/backing_file");
    if (backing && backing->find(dir + "/") != std::string::npos) ++n;
  }
  if (d) ::closedir(d);
  return n;
}

// A loopback TCP listener on the host's 127.0.0.1 (the sandbox must not reach it).
struct HostListener {
  UniqueFd fd;
  uint16_t port = 0;
  HostListener() {
    fd.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd.get(), 8) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port = ntohs(a.sin_port);
  }
};

class RunscRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("ASB_TEST_DEBUG")) log::SetLevel(log::Level::kDebug);
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: gVisor tests need root";
    if (!RunscOnPath())
      GTEST_SKIP() << "SKIPPED LOUDLY: runsc is not on PATH (apt-get install runsc)";
    char tmpl[] = "/tmp/asb-runsc-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    lower_ = dir_ + "/lower";
    // A minimal merged-/usr skeleton; the host /usr comes in read-only, like the built-in image.
    for (const char* d : {"", "/etc", "/proc", "/dev", "/sys", "/tmp", "/usr", "/root"}) {
      ASSERT_TRUE(MakeDirs(lower_ + d));
    }
    ::chmod((lower_ + "/tmp").c_str(), 01777);
    for (const char* l : {"bin", "lib", "lib64", "sbin"}) {
      ASSERT_EQ(::symlink((std::string("usr/") + l).c_str(), (lower_ + "/" + l).c_str()), 0);
    }
    ASSERT_TRUE(AtomicWriteFile(lower_ + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"));
    auto rt = RunscRuntime::Create(RunscOptions{
        .state_dir = dir_ + "/state", .init_path = asb::testing::BuiltBinary("asb-init")});
    ASSERT_TRUE(rt) << rt.error().message;
    rt_ = std::move(*rt);
  }

  void TearDown() override {
    if (rt_) {
      auto ids = rt_->List();
      if (ids) {
        for (const std::string& id : *ids) (void)rt_->Stop(id, 0ms);
      }
      rt_.reset();
    }
    if (!dir_.empty()) {
      EXPECT_EQ(CountMountsUnder(dir_), 0);
      (void)RemoveTree(dir_);
    }
  }

  SandboxSpec Spec(const std::string& id, std::vector<std::string> argv) {
    SandboxSpec s;
    s.id = id;
    s.hostname = "host-" + id;
    s.rootfs.lower_dir = lower_;
    s.rootfs.binds = {{"/usr", "/usr", true}};
    s.process.argv = std::move(argv);
    s.process.env = {"HOME=/root"};
    s.limits = {.memory_bytes = 512 << 20,
                .cpu_millis = 1000,
                .pids = 128,
                .ephemeral_storage_bytes = 64 << 20};
    return s;
  }

  Result<ExecResult> Python(const std::string& id, const std::string& code,
                            std::chrono::milliseconds timeout = 60s) {
    return rt_->Exec(id, ProcessSpec{.argv = {"/usr/bin/python3", "-c", code}}, timeout);
  }

  void ExpectNothingLeft(const std::string& id) {
    EXPECT_FALSE(PathExists(rt_->BundleDir(id)));
    EXPECT_TRUE(WaitFor([&] { return CountProcessesMentioning(dir_) == 0; }, 10s))
        << CountProcessesMentioning(dir_) << " runsc processes left";
    EXPECT_EQ(CountMountsUnder(dir_), 0);
    EXPECT_EQ(LoopDevicesBackedFrom(dir_), 0) << "loop devices of the writable layer left";
    EXPECT_FALSE(PathExists("/sys/fs/cgroup/memory/asb/runsc-" + id));
    EXPECT_FALSE(PathExists("/sys/fs/cgroup/memory/asb-burstable-runsc-" + id));
    auto ids = rt_->List();
    ASSERT_TRUE(ids);
    EXPECT_EQ(std::count(ids->begin(), ids->end(), id), 0);
  }

  std::string dir_, lower_;
  std::unique_ptr<RunscRuntime> rt_;
};

TEST_F(RunscRuntimeTest, ServesPortThroughDialAndIsIsolated) {
  const std::string id = "srv";
  ASSERT_TRUE(AtomicWriteFile(dir_ + "/host-marker", "secret"));
  HostListener host;
  ASSERT_NE(host.port, 0);

  auto st = rt_->Start(Spec(id, {"/usr/bin/python3", "-m", "http.server", "8888", "--bind",
                                 "127.0.0.1", "--directory", "/etc"}));
  ASSERT_TRUE(st) << st.error().message;
  auto status = rt_->Inspect(id);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, SandboxState::kRunning);

  // The app's port is reachable from the host side through the sandbox's network namespace.
  UniqueFd conn;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto c = rt_->DialPort(id, 8888);
        if (c) conn = std::move(*c);
        return c.has_value();
      },
      30s));
  std::string req = "GET /passwd HTTP/1.0\r\n\r\n";
  ASSERT_EQ(::write(conn.get(), req.data(), req.size()), static_cast<ssize_t>(req.size()));
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(conn.get(), buf, sizeof(buf))) > 0) resp.append(buf, n);
  EXPECT_NE(resp.find("200"), std::string::npos) << resp;
  EXPECT_NE(resp.find("root:x:0:0"), std::string::npos);
  EXPECT_EQ(rt_->DialPort(id, 9).error().code, Code::kUnavailable);

  // Inside checks.
  std::string probe = R"PY(
import ctypes, errno, json, os, socket
r = {}
def err(e): return errno.errorcode.get(e.errno, str(e)) if e.errno else 'timeout'
r['hostname'] = socket.gethostname()
r['pid1'] = open('/proc/1/cmdline', 'rb').read().replace(b'\0', b' ').decode()
r['pids'] = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
r['ifaces'] = [l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]]
r['marker'] = os.path.exists('MARKER')
try:
    open('/usr/asb-probe', 'w'); r['usr_write'] = 'ok'
except OSError as e: r['usr_write'] = err(e)
for name, addr in (('host_lo', ('127.0.0.1', HOSTPORT)), ('egress', ('1.1.1.1', 80))):
    s = socket.socket(); s.settimeout(3)
    try:
        s.connect(addr); r[name] = 'connected'
    except OSError as e: r[name] = err(e)
libc = ctypes.CDLL(None, use_errno=True)
os.makedirs('/tmp/m', exist_ok=True)
r['mount'] = 'ok' if libc.mount(b'tmpfs', b'/tmp/m', b'tmpfs', 0, None) == 0 else errno.errorcode[ctypes.get_errno()]
open('/tmp/written', 'w').write('x')
print(json.dumps(r))
)PY";
  probe.replace(probe.find("MARKER"), 6, dir_ + "/host-marker");
  probe.replace(probe.find("HOSTPORT"), 8, std::to_string(host.port));
  auto ex = Python(id, probe);
  ASSERT_TRUE(ex) << ex.error().message;
  ASSERT_EQ(ex->exit_code, 0) << ex->stderr_data;
  auto j = ParseJson(ex->stdout_data);
  ASSERT_TRUE(j) << ex->stdout_data;
  EXPECT_EQ((*j)["hostname"], "host-srv");
  EXPECT_NE((*j)["pid1"].get<std::string>().find("http.server"), std::string::npos) << (*j)["pid1"];
  EXPECT_LE((*j)["pids"].size(), 4u) << (*j)["pids"];  // app + this probe: no host processes
  EXPECT_EQ((*j)["ifaces"], Json({"lo"}));
  EXPECT_EQ((*j)["marker"], false);
  EXPECT_EQ((*j)["usr_write"], "EROFS");
  EXPECT_EQ((*j)["host_lo"], "ECONNREFUSED");
  EXPECT_EQ((*j)["egress"], "ENETUNREACH");
  EXPECT_EQ((*j)["mount"], "EPERM");
  // Writes land in the sandbox's own upper layer, not on the image.
  EXPECT_FALSE(PathExists(lower_ + "/tmp/written"));
  EXPECT_FALSE(PathExists("/usr/asb-probe"));

  ASSERT_OK(rt_->Stop(id, 2s));
  ExpectNothingLeft(id);
  EXPECT_EQ(rt_->Inspect(id).error().code, Code::kNotFound);
  ASSERT_OK(rt_->Stop(id, 0ms));  // idempotent
}

TEST_F(RunscRuntimeTest, ReportsExitCode) {
  auto st = rt_->Start(
      Spec("exiter", {"/usr/bin/python3", "-c", "import time,sys; time.sleep(1); sys.exit(7)"}));
  ASSERT_TRUE(st) << st.error().message;
  SandboxStatus s;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = rt_->Inspect("exiter");
        if (r) s = *r;
        return r && r->state == SandboxState::kExited;
      },
      30s));
  EXPECT_EQ(s.exit_code, 7);
  EXPECT_FALSE(s.oom_killed);
  EXPECT_EQ(rt_->Exec("exiter", {.argv = {"/bin/true"}}, 5s).error().code,
            Code::kFailedPrecondition);
  ASSERT_OK(rt_->Stop("exiter", 1s));
  ExpectNothingLeft("exiter");
}

TEST_F(RunscRuntimeTest, MemoryLimitKillsHog) {
  if (!PathExists("/sys/fs/cgroup/memory")) GTEST_SKIP() << "SKIPPED LOUDLY: no cgroup v1 memory";
  SandboxSpec spec = Spec("hog", {"/usr/bin/python3", "-c",
                                  "import time\nb=[]\nwhile True:\n  b.append(bytearray(8<<20))\n"
                                  "  time.sleep(0.01)\n"});
  spec.limits.memory_bytes = 128 << 20;
  auto st = rt_->Start(spec);
  ASSERT_TRUE(st) << st.error().message;
  SandboxStatus s;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = rt_->Inspect("hog");
        if (r) s = *r;
        return r && r->state == SandboxState::kExited;
      },
      60s));
  EXPECT_TRUE(s.oom_killed) << s.message;
  EXPECT_EQ(s.exit_code, 128 + 9);
  ASSERT_OK(rt_->Stop("hog", 0ms));
  ExpectNothingLeft("hog");
}

// The writable layer is disk, not memory: 256 MiB of it fill up under a 160 MiB memory limit
// with ENOSPC and the sandbox lives on (no OOM kill).
TEST_F(RunscRuntimeTest, DiskFillerStopsAtEphemeralStorage) {
  SandboxSpec spec = Spec("filler", {"/usr/bin/sleep", "infinity"});
  spec.limits.ephemeral_storage_bytes = 256 << 20;
  spec.limits.memory_bytes = 160 << 20;
  auto st = rt_->Start(spec);
  ASSERT_TRUE(st) << st.error().message;
  auto ex = Python("filler", R"PY(
import errno, os
n = 0
try:
    with open('/tmp/fill', 'wb') as f:
        while n < (512 << 20):
            f.write(b'x' * (1 << 20)); f.flush(); os.fsync(f.fileno()); n += 1 << 20
    print('NOLIMIT', n)
except OSError as e:
    print(errno.errorcode[e.errno], n)
)PY");
  ASSERT_TRUE(ex) << ex.error().message;
  auto parts = Split(std::string(Trim(ex->stdout_data)), ' ');
  ASSERT_EQ(parts.size(), 2u) << ex->stdout_data << ex->stderr_data;
  EXPECT_EQ(parts[0], "ENOSPC");
  EXPECT_LE(*ParseInt(parts[1]), 256 << 20);
  EXPECT_GE(*ParseInt(parts[1]), 200 << 20);
  auto alive = rt_->Inspect("filler");
  ASSERT_TRUE(alive);
  EXPECT_EQ(alive->state, SandboxState::kRunning) << alive->message;
  ASSERT_OK(rt_->Stop("filler", 0ms));
  ExpectNothingLeft("filler");
}

// Any process can write to pid 1's stdout (/proc/1/fd/1): 48 MiB of it leave at most the 8 MiB
// cap on the host, in CRI format, ending with the newest line.
TEST_F(RunscRuntimeTest, Pid1ConsoleFloodStaysWithinTheCap) {
  SandboxSpec spec = Spec("flood", {"/usr/bin/sleep", "infinity"});
  ASSERT_OK(rt_->Start(spec));
  auto ex = Python("flood", R"PY(
with open('/proc/1/fd/1', 'w') as f:
    line = 'x' * 1023 + '\n'
    for _ in range(48 * 1024):
        f.write(line)
    f.write('END\n')
)PY");
  ASSERT_TRUE(ex) << ex.error().message;
  ASSERT_EQ(ex->exit_code, 0) << ex->stderr_data;
  const std::string log = rt_->LogPath("flood");
  EXPECT_TRUE(WaitFor(
      [&] {
        auto text = ReadFile(log);
        return text && EndsWith(*text, " stdout F END\n");
      },
      20s))
      << "the last line never reached " << log;
  struct stat cur {
  }, old{};
  ASSERT_EQ(::stat(log.c_str(), &cur), 0);
  ASSERT_EQ(::stat((log + ".1").c_str(), &old), 0) << "never rotated";
  EXPECT_LE(cur.st_size + old.st_size, 8 << 20);
  ASSERT_OK(rt_->Stop("flood", 0ms));
  ExpectNothingLeft("flood");
}

// limits.cpu is a CFS quota on runsc's cgroup too: 4 spinning threads under 500m use about half
// a core (cpuacct.usage over 1.5 s, not wall time), and requests.cpu is its share.
TEST_F(RunscRuntimeTest, CpuLimitIsAQuotaAndTheRequestAShare) {
  if (!PathExists("/sys/fs/cgroup/cpuacct")) GTEST_SKIP() << "SKIPPED LOUDLY: no cgroup v1 cpuacct";
  SandboxSpec spec = Spec("spin", {"/usr/bin/python3", "-c", R"PY(
import threading
def spin():
    while True:
        pass
for _ in range(4):
    threading.Thread(target=spin, daemon=True).start()
threading.Event().wait()
)PY"});
  spec.limits.cpu_millis = 500;
  spec.limits.cpu_request_millis = 250;
  ASSERT_OK(rt_->Start(spec));
  const std::string acct = "/sys/fs/cgroup/cpuacct/asb/runsc-spin/cpuacct.usage";
  auto shares = ReadFile("/sys/fs/cgroup/cpu/asb/runsc-spin/cpu.shares");
  ASSERT_TRUE(shares.has_value());
  EXPECT_EQ(Trim(*shares), "256");
  auto quota = ReadFile("/sys/fs/cgroup/cpu/asb/runsc-spin/cpu.cfs_quota_us");
  ASSERT_TRUE(quota.has_value());
  EXPECT_EQ(Trim(*quota), "50000");
  std::this_thread::sleep_for(1s);  // python starts its threads
  auto before = ReadFile(acct);
  ASSERT_TRUE(before.has_value()) << acct;
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(1500ms);
  auto after = ReadFile(acct);
  ASSERT_TRUE(after.has_value());
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double used = static_cast<double>(*ParseInt(std::string(Trim(*after))) -
                                    *ParseInt(std::string(Trim(*before)))) /
                1e9;
  EXPECT_GT(used, 0.1 * wall) << "the spinner did not run";
  EXPECT_LE(used, 0.6 * wall) << "500m limit, but used " << used << " CPU s in " << wall << " s";
  ASSERT_OK(rt_->Stop("spin", 0ms));
  ExpectNothingLeft("spin");
}

TEST_F(RunscRuntimeTest, ExecTimesOutAndKillsTheProcess) {
  auto st = rt_->Start(Spec("slow", {"/usr/bin/sleep", "infinity"}));
  ASSERT_TRUE(st) << st.error().message;
  auto ok = rt_->Exec("slow", {.argv = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}}, 30s);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->exit_code, 3);
  EXPECT_EQ(ok->stdout_data, "out\n");
  EXPECT_EQ(ok->stderr_data, "err\n");
  auto r = rt_->Exec("slow", {.argv = {"/usr/bin/sleep", "1000"}}, 1s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kDeadlineExceeded);
  // The timed-out process is gone from the sandbox.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto ps = Python("slow",
                         "import os\nprint(sum(1 for p in os.listdir('/proc') if p.isdigit() and "
                         "int(p) != os.getpid() and open('/proc/%s/cmdline' % p, 'rb').read() == "
                         "b'/usr/bin/sleep\\x001000\\x00'))");
        return ps && Trim(ps->stdout_data) == "0";
      },
      10s));
  ASSERT_OK(rt_->Stop("slow", 0ms));
  ExpectNothingLeft("slow");
}

TEST_F(RunscRuntimeTest, FreshRuntimeListsAndStopsLeftover) {
  auto st = rt_->Start(Spec("leftover", {"/usr/bin/sleep", "infinity"}));
  ASSERT_TRUE(st) << st.error().message;
  rt_.reset();  // asbd "restarts": the sandbox keeps running

  auto rt2 = RunscRuntime::Create(RunscOptions{.state_dir = dir_ + "/state",
                                               .init_path = asb::testing::BuiltBinary("asb-init")});
  ASSERT_TRUE(rt2);
  rt_ = std::move(*rt2);
  auto ids = rt_->List();
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, std::vector<std::string>{"leftover"});
  auto s = rt_->Inspect("leftover");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->state, SandboxState::kRunning);
  ASSERT_OK(rt_->Stop("leftover", 1s));
  ExpectNothingLeft("leftover");
}

// A cpu request without a limit (Burstable) puts runsc's group next to /asb, where CpuGovernor
// finds it (docs/cpu.md), with the request as its share; a restarted runtime still finds and
// removes it.
TEST_F(RunscRuntimeTest, BurstableGroupSitsNextToTheParentAndIsRecovered) {
  if (!PathExists("/sys/fs/cgroup/cpu")) GTEST_SKIP() << "SKIPPED LOUDLY: no cgroup v1 cpu";
  SandboxSpec spec = Spec("burst", {"/usr/bin/sleep", "infinity"});
  spec.limits.cpu_millis = 0;
  spec.limits.cpu_request_millis = 250;
  ASSERT_OK(rt_->Start(spec));
  const std::string cpu = "/sys/fs/cgroup/cpu/asb-burstable-runsc-burst";
  auto shares = ReadFile(cpu + "/cpu.shares");
  ASSERT_TRUE(shares.has_value()) << cpu << ": " << shares.error().message;
  EXPECT_EQ(Trim(*shares), "256");
  EXPECT_FALSE(PathExists("/sys/fs/cgroup/cpu/asb/runsc-burst"));
  rt_.reset();  // asbd "restarts": the sandbox keeps running
  auto rt2 = RunscRuntime::Create(RunscOptions{.state_dir = dir_ + "/state",
                                               .init_path = asb::testing::BuiltBinary("asb-init")});
  ASSERT_TRUE(rt2);
  rt_ = std::move(*rt2);
  ASSERT_OK(rt_->Stop("burst", 1s));
  ExpectNothingLeft("burst");
  EXPECT_FALSE(PathExists(cpu));
}

TEST_F(RunscRuntimeTest, RejectsBadInputAndDuplicates) {
  SandboxSpec bad = Spec("Bad_Id", {"/bin/true"});
  EXPECT_EQ(rt_->Start(bad).error().code, Code::kInvalidArgument);
  SandboxSpec missing = Spec("nolower", {"/bin/true"});
  missing.rootfs.lower_dir = dir_ + "/does-not-exist";
  EXPECT_EQ(rt_->Start(missing).error().code, Code::kInvalidArgument);
  // The container's argv runs under asb-init (oci_spec.h, kSandboxInitPath), so a missing
  // program is found by asb-init: it exits 127 with a message in the log, either before Start
  // saw the sandbox running (Start fails with that message) or after (the sandbox exits 127).
  const std::string why = "asb-init: execute /no/such/binary: No such file or directory";
  auto started = rt_->Start(Spec("noexe", {"/no/such/binary"}));
  if (!started) {
    EXPECT_EQ(started.error().code, Code::kInternal);
    EXPECT_NE(started.error().message.find(why), std::string::npos) << started.error().message;
  } else {
    SandboxStatus s;
    ASSERT_TRUE(WaitFor(
        [&] {
          auto r = rt_->Inspect("noexe");
          if (r) s = *r;
          return r && r->state == SandboxState::kExited;
        },
        30s));
    EXPECT_EQ(s.exit_code, 127);
    EXPECT_NE(ReadFile(rt_->LogPath("noexe")).value_or("").find(why), std::string::npos);
    ASSERT_OK(rt_->Stop("noexe", 0ms));
  }
  ExpectNothingLeft("noexe");  // either way nothing is left behind

  ASSERT_TRUE(rt_->Start(Spec("dup", {"/usr/bin/sleep", "infinity"})));
  EXPECT_EQ(rt_->Start(Spec("dup", {"/usr/bin/sleep", "infinity"})).error().code,
            Code::kAlreadyExists);
  ASSERT_OK(rt_->Stop("dup", 0ms));
  ASSERT_OK(rt_->Stop("never-existed", 0ms));
  EXPECT_EQ(rt_->DialPort("never-existed", 80).error().code, Code::kNotFound);
  ExpectNothingLeft("dup");
}

}  // namespace
}  // namespace asb::runtime::runsc
