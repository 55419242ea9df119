// asb-agent: the HTTP runtime server inside every sandbox (python-runtime-sandbox contract).
// Statically linked so it runs in any root filesystem; see agent/handlers.h for the API.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "agent/config.h"
#include "agent/exec_service.h"
#include "agent/file_service.h"
#include "agent/handlers.h"
#include "agent/init.h"
#include "agent/spawn_setup.h"
#include "agent/supervisor.h"
#include "base/file_util.h"
#include "base/log.h"
#include "http/server.h"

// Warm-up runs on gVisor. Measured (ptrace, 10 warm claims each, first exec through the router
// vs the 6th-20th): none 31.2 vs 21.0 ms p50; 3 runs 22.7 vs 17.9; 8 runs 23.4 vs 17.5. Inside
// the agent the first run takes 30-40 ms and the next ones 11-15.
constexpr int kGvisorWarmUpRuns = 3;

int main(int argc, char** argv) {
  using namespace asb;
  agent::AdoptCommandTaskGroup();  // before any thread or fork (see agent/spawn_setup.h)
  std::vector<std::string> args(argv + 1, argv + argc);
  // `-- ARGV`: beside the container's own process (agent/supervisor.h), else pid 1's init.
  if (auto workload = agent::TakeWorkload(args); !workload.empty()) {
    if (auto code = agent::RunSupervisor(workload)) return *code;
  } else if (auto code = agent::RunInitIfPid1()) {
    return *code;
  }

  auto config = agent::ParseAgentConfig(args, [](const std::string& name) {
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  });
  if (!config) {
    std::fprintf(stderr, "asb-agent: %s\n%s", config.error().message.c_str(), agent::kAgentUsage);
    return 2;
  }
  if (config->help) {
    std::fputs(agent::kAgentUsage, stdout);
    return 0;
  }
  for (const std::string& w : config->warnings) ASB_LOG(WARN, w);

  // Broken client connections must not kill the server; children get SIGPIPE back by default
  // (ExecService resets dispositions). SIGTERM/SIGINT are blocked here, before any thread
  // exists, so every thread inherits the mask and only the sigwait below receives them.
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto files = agent::FileService::Open(config->base_dir);
  if (!files) {
    ASB_LOG(ERROR, "cannot use base dir", "dir", config->base_dir, "error", files.error().message);
    return 2;
  }
  agent::ExecService exec(files->base_dir(), config->exec_timeout, config->max_concurrent_execs,
                          config->max_output_bytes);
  if (agent::InCommandTaskGroupSandbox()) {
    // gVisor: the first command's one-time costs are paid here, before the readiness probe can
    // answer, not by the user's first exec (see ExecService::WarmUp).
    auto took = exec.WarmUp({"true"}, kGvisorWarmUpRuns);
    std::string ms;
    for (auto t : took) ms += (ms.empty() ? "" : ",") + std::to_string(t.count() / 1000.0);
    ASB_LOG(INFO, "exec path warmed up", "runs_ms", ms);
  }
  http::ServerOptions options;
  options.host = config->host;
  options.port = config->port;
  options.max_body_bytes = config->max_body_bytes;
  options.server_name = "asb-agent";
  // Workers are started now, while the sandbox can still create threads: a fork bomb inside
  // (pids limit reached) must leave the agent able to answer. Execs hold a worker while they
  // run, so the pool has room for every exec slot plus the cheap file and health calls. Four
  // pre-started ones keep a probe, a file call and two execs answering under a fork bomb; each
  // more is a task of every idle sandbox (a pid and ~30 KiB of kernel stack and task state:
  // docs/density.md), and more are started on demand while threads can be made.
  options.min_workers = 4;
  options.max_workers = config->max_concurrent_execs + 16;
  // Every client comes through the router, from one address: no per-IP cap below the global.
  options.max_connections = 1024;
  options.max_connections_per_ip = 1024;
  auto server = http::Server::Start(options, agent::MakeAgentHandler({&exec, &*files}));
  if (!server) {
    ASB_LOG(ERROR, "cannot listen", "host", config->host, "port", config->port, "error",
            server.error().message);
    return 2;
  }
  if (!config->port_file.empty()) {
    Status written = AtomicWriteFile(config->port_file, std::to_string((*server)->port()) + "\n");
    if (!written) {
      ASB_LOG(ERROR, "cannot write port file", "error", written.error().message);
      return 2;
    }
  }
  ASB_LOG(INFO, "asb-agent listening", "host", config->host, "port", (*server)->port(), "base_dir",
          files->base_dir(), "exec_timeout_ms", config->exec_timeout.count());

  int sig = 0;
  while (::sigwait(&stop_signals, &sig) != 0) {
  }
  ASB_LOG(INFO, "asb-agent stopping", "signal", sig);
  // A sandbox's teardown waits for this process, so the drain is bounded: under gVisor, threads
  // blocked on idle keep-alive connections are not woken by shutdown(2), and without this bound
  // every gVisor pod deletion waited out the whole grace period (30 s).
  try {
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      ASB_LOG(WARN, "asb-agent stop took over 500 ms; exiting anyway");
      std::_Exit(0);
    }).detach();
  } catch (const std::system_error&) {
    // No thread to spare (pids limit): skip the graceful drain rather than abort.
    std::_Exit(0);
  }
  (*server)->Stop();
  return 0;
}
