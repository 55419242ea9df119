// runsc_bench: how fast the gVisor runtime is on this machine. Needs root and runsc on PATH.
//
//   runsc_bench [--runs N] [--platform ptrace]
//
// Prints, over N runs each (p50 / p99 / max, milliseconds):
//   baseline        `runsc --network=none do true` (runsc's own floor, no bundle, no overlay)
//   start           RunscRuntime::Start returning (bundle, tmpfs+overlay, netns, runsc run,
//                   state says running)
//   start_to_port   Start until DialPort(8888) connects to the app ("cold start")
//   exec            Exec(/bin/true) round trip in a running sandbox
//   stop            Stop (kill, delete, unmount, remove)
// The app is tests/testcases/sbx_probe `serve 8888` (static) when built, else python3 -m
// http.server (much slower to start under gVisor: the interpreter's ~1k file opens).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/file_util.h"
#include "runtime/runsc/runsc_runtime.h"
#include "sys/command.h"

namespace {

using namespace std::chrono_literals;
using asb::runtime::SandboxSpec;
using asb::runtime::runsc::RunscOptions;
using asb::runtime::runsc::RunscRuntime;
using Ms = std::chrono::duration<double, std::milli>;

double Since(std::chrono::steady_clock::time_point t0) {
  return Ms(std::chrono::steady_clock::now() - t0).count();
}

void Report(const char* name, std::vector<double> v) {
  if (v.empty()) {
    std::printf("%-14s no samples\n", name);
    return;
  }
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  std::printf("%-14s n=%-3zu p50=%8.1f ms  p99=%8.1f ms  max=%8.1f ms\n", name, v.size(), pct(0.5),
              pct(0.99), v.back());
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 10;
  std::string platform = "ptrace";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--platform" && i + 1 < argc) {
      platform = argv[++i];
    } else {
      std::fprintf(stderr, "usage: runsc_bench [--runs N] [--platform ptrace]\n");
      return 2;
    }
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "runsc_bench: needs root\n");
    return 1;
  }
  char tmpl[] = "/tmp/asb-runsc-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) return 1;
  const std::string dir = tmpl;
  const std::string lower = dir + "/lower";
  for (const char* d : {"", "/etc", "/proc", "/dev", "/sys", "/tmp", "/usr", "/asb/bin"}) {
    (void)asb::MakeDirs(lower + d);
  }
  for (const char* l : {"bin", "lib", "lib64", "sbin"}) {
    (void)!::symlink((std::string("usr/") + l).c_str(), (lower + "/" + l).c_str());
  }

  auto rt_or =
      RunscRuntime::Create(RunscOptions{.state_dir = dir + "/state", .platform = platform});
  if (!rt_or) {
    std::fprintf(stderr, "runsc_bench: %s\n", rt_or.error().message.c_str());
    return 1;
  }
  auto& rt = **rt_or;

  const std::string probe = asb::SelfExeDir() + "/../tests/sbx_probe";
  const bool have_probe = asb::PathExists(probe);
  SandboxSpec base;
  base.rootfs.lower_dir = lower;
  base.rootfs.binds = {{"/usr", "/usr", true}};
  if (have_probe) {
    base.rootfs.binds.push_back({probe, "/asb/bin/sbx_probe", true});
    base.process.argv = {"/asb/bin/sbx_probe", "serve", "8888"};
  } else {
    base.process.argv = {"/usr/bin/python3", "-m", "http.server", "8888", "--bind", "127.0.0.1"};
  }
  base.limits = {
      .memory_bytes = 512 << 20, .cpu_millis = 0, .pids = 0, .ephemeral_storage_bytes = 256 << 20};
  std::printf("runsc_bench: platform=%s runs=%d app=%s\n", platform.c_str(), runs,
              have_probe ? "sbx_probe serve" : "python3 -m http.server");

  std::vector<double> baseline, start, to_port, exec, stop;
  for (int i = 0; i < runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = asb::sys::RunCommand({"runsc", "--root", dir + "/do-root", "--platform=" + platform,
                                   "--network=none", "do", "true"},
                                  60s);
    if (r && r->exit_code == 0) baseline.push_back(Since(t0));
  }
  for (int i = 0; i < runs; ++i) {
    SandboxSpec spec = base;
    spec.id = "bench-" + std::to_string(i);
    auto t0 = std::chrono::steady_clock::now();
    auto st = rt.Start(spec);
    if (!st) {
      std::fprintf(stderr, "start %s: %s\n", spec.id.c_str(), st.error().message.c_str());
      continue;
    }
    start.push_back(Since(t0));
    bool up = false;
    while (Since(t0) < 30000) {
      if (rt.DialPort(spec.id, 8888)) {
        up = true;
        break;
      }
      std::this_thread::sleep_for(2ms);
    }
    if (up) to_port.push_back(Since(t0));
    if (i == 0) {
      for (int k = 0; k < runs; ++k) {
        auto e0 = std::chrono::steady_clock::now();
        auto e = rt.Exec(spec.id, {.argv = {"/bin/true"}}, 30s);
        if (e && e->exit_code == 0) exec.push_back(Since(e0));
      }
    }
    auto s0 = std::chrono::steady_clock::now();
    auto stopped = rt.Stop(spec.id, 0ms);
    if (stopped) {
      stop.push_back(Since(s0));
    } else {
      std::fprintf(stderr, "stop %s: %s\n", spec.id.c_str(), stopped.error().message.c_str());
    }
  }
  Report("baseline", baseline);
  Report("start", start);
  Report("start_to_port", to_port);
  Report("exec", exec);
  Report("stop", stop);
  (void)asb::RemoveTree(dir);
  return 0;
}
