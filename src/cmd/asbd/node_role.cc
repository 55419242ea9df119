#include "cmd/asbd/node_role.h"

#include <signal.h>

#include <thread>

#include "base/log.h"
#include "client/kubeconfig.h"
#include "cmd/asbd/app.h"
#include "cmd/asbd/node_heartbeat.h"
#include "cmd/asbd/node_streams.h"
#include "cmd/asbd/stop_signals.h"
#include "kube/rest_store.h"

namespace asb::asbd {

namespace {

int Fail(int code, const std::string& what) {
  fprintf(stderr, "asbd node: %s\n", what.c_str());
  return code;
}

}  // namespace

int RunNode(const NodeRoleConfig& config) {
  const sigset_t set = BlockStopSignals();  // before any thread starts

  if (auto valid = Validate(config.daemon); !valid) return Fail(2, valid.error().message);
  auto rc = kube::LoadRestConfig(config.kubeconfig);
  if (!rc) return Fail(2, rc.error().message);
  auto token = kube::BearerToken(*rc, config.token_file);
  if (!token) return Fail(2, token.error().message);
  auto listen = client::ParseHostPort(config.listen);
  if (!listen) return Fail(2, "--listen: " + listen.error().message);
  kube::TransportOptions to;
  to.qps = config.qps;
  to.burst = config.burst;
  kube::RestStoreOptions so;
  so.field_manager = "asbd-node";
  auto store = kube::OpenRestStore(*rc, to, so);
  if (!store) return Fail(2, store.error().message);

  // The API server may start after us (a kubelet waits for it too).
  for (bool first = true;; first = false) {
    auto ns = (*store)->Get(api::NamespaceResource(), "", "default");
    if (ns || ns.error().code == Code::kNotFound) break;
    if (first)
      ASB_LOG(WARN, "asbd node: API server not reachable yet", "error", ns.error().message);
    if (StopSignalPending()) return 0;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }

  auto streams = NodeStreams::Start(listen->host, listen->port, *token);
  if (!streams) return Fail(2, "--listen " + config.listen + ": " + streams.error().message);
  auto daemon = Daemon::StartNodeOnly(config.daemon, **store);
  if (!daemon) return Fail(1, daemon.error().message);
  (*streams)->Attach(&(*daemon)->node(), &(*daemon)->pod_streams(), (*daemon)->image_api());

  NodeHeartbeatOptions ho;
  ho.node_name = config.daemon.node_name;
  ho.address = listen->host == "0.0.0.0" ? "127.0.0.1" : listen->host;
  ho.stream_port = (*streams)->port();
  if (config.daemon.pod_network == "bridge") ho.pod_cidr = config.daemon.pod_cidr;
  NodeHeartbeat heartbeat(**store, ho);
  if (auto s = heartbeat.Start(); !s) {
    (*streams)->Attach(nullptr, nullptr, nullptr);
    (*daemon)->Stop();
    return Fail(1, s.error().message);
  }
  ASB_LOG(INFO, "asbd node running", "node", ho.node_name, "server",
          rc->host + ":" + std::to_string(rc->port), "streams",
          ho.address + ":" + std::to_string(ho.stream_port), "state_dir", config.daemon.state_dir);

  const int sig = WaitForStopSignal(set);
  ASB_LOG(INFO, "asbd node stopping", "signal", sig);
  heartbeat.Stop();
  (*streams)->Attach(nullptr, nullptr, nullptr);
  (*streams)->Stop();
  (*daemon)->Stop();
  return 0;
}

}  // namespace asb::asbd
