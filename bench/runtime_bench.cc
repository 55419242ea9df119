// runtime_bench: native runtime latencies on this machine, with host baselines from the same run.
//
//   cold start   Start() until port 8888 accepts a connection inside the sandbox (the real
//                asb-agent in the python-runtime image when build/bin/asb-agent exists, else
//                sbx_probe serve in a minimal image)
//   start only   Start() returning (the workload has execve'd)
//   dial+GET     DialPort(8888) + "GET /" + reading the whole response, on a running sandbox
//   stop         Stop() of a running sandbox, everything removed
//   baseline     posix_spawn + waitpid of /bin/true on the host
//   + pod network  the same through net::NetworkedRuntime (a veth and an address on a bridge of
//                its own, asbbench0, 10.252.0.0/24; dials go to the pod IP instead of into the
//                namespace), interleaved with the plain runs so both see the same machine;
//                and PodNetwork::Attach / Detach alone
//   + resolv.conf  the pod network with the per-sandbox /etc/resolv.conf asbd writes and binds
//                (net/dns_config.h); then also a template networkPolicy allowing an ipBlock, and
//                one allowing a dnsName instead (the name resolved off the start path: the
//                bench's resolver is a closed loopback port, so it never answers)
//
// Usage: runtime_bench [iterations=30] [netns_pool=8]   (needs root)
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/file_util.h"
#include "base/json_util.h"
#include "base/strings.h"
#include "image/image_store.h"
#include "net/networked_runtime.h"
#include "net/pod_network.h"
#include "runtime/native/native_runtime.h"
#include "sys/process.h"

namespace {

using Clock = std::chrono::steady_clock;
using asb::runtime::SandboxSpec;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void Report(const char* name, std::vector<double> v) {
  if (v.empty()) return;
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))]; };
  std::printf("%-34s n=%-4zu p50=%8.2f ms  p99=%8.2f ms  min=%8.2f ms\n", name, v.size(), pct(0.50),
              pct(0.99), v.front());
}

bool HttpGet(asb::runtime::Runtime& rt, const std::string& id) {
  auto fd = rt.DialPort(id, 8888);
  if (!fd) return false;
  std::string req = "GET / HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n\r\n";
  if (::write(fd->get(), req.data(), req.size()) != static_cast<ssize_t>(req.size())) return false;
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd->get(), buf, sizeof(buf))) > 0) resp.append(buf, static_cast<size_t>(n));
  return resp.find(" 200 ") != std::string::npos;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::max(1, std::atoi(argv[1])) : 30;
  // Pre-wired namespaces (net/netns_pool.h): asbd's default unless a second argument says.
  const int netns_pool = argc > 2 ? std::max(0, std::atoi(argv[2])) : 8;
  if (::geteuid() != 0) {
    std::fprintf(stderr, "runtime_bench needs root\n");
    return 2;
  }
  char tmpl[] = "/tmp/asb-bench-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string bin = asb::SelfExeDir();
  asb::runtime::native::NativeRuntimeOptions opts;
  opts.state_dir = dir + "/state";
  opts.init_path = bin + "/asb-init";
  auto rt = asb::runtime::native::NativeRuntime::Create(opts);
  if (!rt) {
    std::fprintf(stderr, "runtime: %s\n", rt.error().message.c_str());
    return 1;
  }
  SandboxSpec base;
  std::string workload;
  if (asb::PathExists(bin + "/asb-agent")) {
    asb::image::ImageStore store(dir + "/state", {.agent_path = bin + "/asb-agent"});
    auto img = store.Resolve("python-runtime");
    if (!img) {
      std::fprintf(stderr, "image: %s\n", img.error().message.c_str());
      return 1;
    }
    base.rootfs = img->rootfs;
    base.process.argv = img->entrypoint;
    base.process.env = img->env;
    base.process.cwd = img->working_dir;
    workload = "asb-agent (python-runtime image)";
  } else {
    std::string probe = bin + "/../tests/sbx_probe";
    std::string lower = dir + "/lower";
    (void)asb::MakeDirs(lower + "/tmp");
    for (const char* d : {"/proc", "/dev", "/app"}) (void)asb::MakeDirs(lower + d);
    std::filesystem::copy_file(probe, lower + "/probe");
    ::chmod((lower + "/probe").c_str(), 0755);
    base.rootfs.lower_dir = lower;
    base.process.argv = {"/probe", "serve", "8888"};
    base.process.cwd = "/app";
    workload = "sbx_probe serve (build asb-agent for the real agent)";
  }
  base.limits.memory_bytes = 512 << 20;
  std::printf("native runtime, workload: %s, %d iterations, netns pool %d\n", workload.c_str(),
              iterations, netns_pool);

  asb::net::PodNetworkOptions net_opts;
  net_opts.state_dir = dir + "/state";
  net_opts.cidr = *asb::net::ParseCidr("10.252.0.0/24");
  net_opts.bridge = "asbbench0";
  net_opts.nft_table = "asbbench";
  net_opts.netns_pool = static_cast<size_t>(netns_pool);
  net_opts.dns_resolver = {*asb::net::ParseIpv4("127.0.0.1")};  // nothing answers: no traffic
  auto network = asb::net::PodNetwork::Create(net_opts);
  if (!network) {
    std::fprintf(stderr, "pod network: %s\n", network.error().message.c_str());
    return 1;
  }
  asb::net::NetworkedRuntime networked(**rt, **network);
  auto with_dns = [](std::string key) {
    return [key](const SandboxSpec&) -> asb::Result<asb::net::NetworkedRuntime::PodInfo> {
      return asb::net::NetworkedRuntime::PodInfo{
          key, "# written by asbd for this sandbox (dnsPolicy None)\nnameserver 198.51.100.53\n"};
    };
  };
  asb::net::NetworkedRuntime resolv(**rt, **network, with_dns(""));
  asb::net::NetworkedRuntime cidr_policy(**rt, **network, with_dns("bench/cidr"));
  asb::net::NetworkedRuntime name_policy(**rt, **network, with_dns("bench/name"));
  for (const auto& [key, text] :
       {std::pair{"bench/cidr", R"({"egress": [{"to": [{"ipBlock": {"cidr": "198.51.100.0/24"}}],
           "ports": [{"port": 443}]}]})"},
        std::pair{"bench/name", R"({"egress": [{"to": [{"dnsName": "pypi.org"}],
           "ports": [{"port": 443}]}]})"}}) {
    auto policy = asb::net::ParseNetworkPolicy(*asb::ParseJson(text));
    if (!policy || !(*network)->SetPolicy(key, *policy)) {
      std::fprintf(stderr, "policy %s not applied\n", key);
      return 1;
    }
  }

  struct Figures {
    std::vector<double> cold, start_only, dial, stop;
  } plain, net, dns, cidr, name;
  std::vector<double> spawn;
  asb::runtime::Runtime* runtimes[] = {rt->get(), &networked, &resolv, &cidr_policy, &name_policy};
  Figures* figures[] = {&plain, &net, &dns, &cidr, &name};
  for (int i = 0; i < 5 * iterations; ++i) {
    asb::runtime::Runtime& r = *runtimes[i % 5];
    Figures& f = *figures[i % 5];
    SandboxSpec s = base;
    s.id = "bench-" + std::to_string(i);
    auto t0 = Clock::now();
    if (auto st = r.Start(s); !st) {
      std::fprintf(stderr, "start: %s\n", st.error().message.c_str());
      return 1;
    }
    auto t1 = Clock::now();
    while (!r.DialPort(s.id, 8888)) {
      if (Clock::now() - t0 > std::chrono::seconds(10)) {
        std::fprintf(stderr, "port 8888 never accepted in %s\n", s.id.c_str());
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    auto t2 = Clock::now();
    f.start_only.push_back(Ms(t1 - t0));
    f.cold.push_back(Ms(t2 - t0));
    if (i < 2) {
      for (int k = 0; k < 200; ++k) {
        auto d0 = Clock::now();
        if (!HttpGet(r, s.id)) {
          std::fprintf(stderr, "GET / failed\n");
          break;
        }
        f.dial.push_back(Ms(Clock::now() - d0));
      }
    }
    auto s0 = Clock::now();
    if (auto st = r.Stop(s.id, std::chrono::milliseconds(0)); !st) {
      std::fprintf(stderr, "stop: %s\n", st.error().message.c_str());
      return 1;
    }
    f.stop.push_back(Ms(Clock::now() - s0));
  }
  // The pod network's own share: namespace + veth + address, and their removal.
  std::vector<double> attach, detach;
  for (int i = 0; i < iterations; ++i) {
    std::string id = "net-" + std::to_string(i);
    auto a0 = Clock::now();
    if (auto a = (*network)->Attach(id); !a) {
      std::fprintf(stderr, "attach: %s\n", a.error().message.c_str());
      return 1;
    }
    auto a1 = Clock::now();
    if (auto d = (*network)->Detach(id); !d) {
      std::fprintf(stderr, "detach: %s\n", d.error().message.c_str());
      return 1;
    }
    attach.push_back(Ms(a1 - a0));
    detach.push_back(Ms(Clock::now() - a1));
  }
  (*network)->Shutdown();
  for (int i = 0; i < 100; ++i) {
    auto t0 = Clock::now();
    auto pid = asb::sys::Spawn({.path = "/bin/true", .argv = {"true"}, .new_session = false});
    if (pid) (void)asb::sys::WaitPid(*pid);
    spawn.push_back(Ms(Clock::now() - t0));
  }
  Report("cold start -> port 8888 accepting", plain.cold);
  Report("  + pod network", net.cold);
  Report("  + pod network, resolv.conf", dns.cold);
  Report("  + pod network, resolv.conf, ipBlock policy", cidr.cold);
  Report("  + pod network, resolv.conf, dnsName policy", name.cold);
  Report("Start() returns", plain.start_only);
  Report("  + pod network", net.start_only);
  Report("DialPort + GET / (netns dial)", plain.dial);
  Report("  pod network (pod IP dial)", net.dial);
  Report("Stop() (kill, cgroups, files)", plain.stop);
  Report("  + pod network", net.stop);
  Report("PodNetwork::Attach alone", attach);
  Report("PodNetwork::Detach alone", detach);
  Report("baseline: spawn+wait /bin/true", spawn);
  (void)asb::RemoveTree(dir);
  return 0;
}
