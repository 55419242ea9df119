// Assembly of the asbd daemon: state dir, token, store, API server, image store, runtimes, node
// agent, controllers, router, kubeconfig. main.cc parses flags into a DaemonConfig and calls
// RunServe; tests and benchmarks use Daemon directly. Components start in dependency order and
// stop in reverse.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "apiserver/api_server.h"
#include "apiserver/tls_front.h"
#include "base/result.h"
#include "client/kubeconfig.h"
#include "cmd/asbd/config.h"
#include "cmd/asbd/image_api.h"
#include "cmd/asbd/mirror_pods.h"
#include "cmd/asbd/node_pod_streams.h"
#include "cmd/asbd/node_proxy.h"
#include "cmd/asbd/pod_dialer.h"
#include "cmd/asbd/pod_network_setup.h"
#include "cmd/asbd/sandbox_backend.h"
#include "cmd/asbd/scheduler.h"
#include "controller/manager.h"
#include "controller/state_metrics.h"
#include "http/server.h"
#include "image/image_store.h"
#include "node/node_agent.h"
#include "router/router_server.h"
#include "runtime/runtime.h"
#include "storage/local_volumes.h"
#include "storage/provisioner.h"
#include "store/sqlite_store.h"
#include "sys/cpu_governor.h"

namespace asb::asbd {

// What one `asbd serve` runs (--roles, a comma list; default the embedded mode: all but the
// scheduler). Without the controller role, `asbd controller` processes reconcile over the API
// (controller_role.h); without the node role, `asbd node` processes run the pods (node_role.h)
// and the scheduler role binds pods to them (scheduler.h). The roles here share the in-process
// store, so they run beside the apiserver role; `asbd node|router|controller` are the same roles
// as processes of their own over the REST API.
struct Roles {
  bool apiserver = true;
  bool controller = true;
  bool node = true;
  bool router = true;
  bool scheduler = false;  // with the node role: the node binds nothing itself
};
// "apiserver,node,router" -> Roles. kInvalidArgument naming an unknown role or a combination
// this build cannot run.
[[nodiscard]] Result<Roles> ParseRoles(const std::string& text);

class Daemon {
 public:
  // Opens the store, loads or creates DIR/token (0600), starts the API server and writes
  // DIR/kubeconfig (0600) naming the bound address. Errors: kInvalidArgument (bad flags),
  // kFailedPrecondition (state dir in use), kUnavailable (address in use).
  [[nodiscard]] static Result<std::unique_ptr<Daemon>> Start(const DaemonConfig& config,
                                                             Roles roles = {});
  // `asbd node`: the node role alone over `store` (the REST API of an apiserver): images,
  // runtimes, pod network and the node agent, which runs only the pods a scheduler bound to
  // config.node_name. No API server, no kubeconfig written.
  // `store` must outlive the daemon.
  [[nodiscard]] static Result<std::unique_ptr<Daemon>> StartNodeOnly(const DaemonConfig& config,
                                                                     store::Store& store);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Stops every component, newest first. Idempotent.
  void Stop();

  const std::string& api_url() const { return api_url_; }  // "https://127.0.0.1:6443"
  uint16_t api_port() const { return front_ ? front_->port() : 0; }
  const std::string& token() const { return token_; }
  const std::string& kubeconfig_path() const { return kubeconfig_path_; }
  const std::string& router_url() const { return router_url_; }
  store::Store& store() { return *store_; }
  // The node agent (benchmarks dial pods directly to compare with the router).
  node::NodeAgent& node() { return *node_; }
  // Where the node's pods' output is, and its image API (`asbd node`'s stream port serves them).
  NodePodStreams& pod_streams() { return *pod_streams_; }
  ImageApi* image_api() { return image_api_.get(); }

 private:
  Daemon() = default;
  // The parts of Start, one per role, in start order.
  // Over `store` (the in-process one, or the REST API's for `asbd node`); self_bind: the node
  // binds pods without spec.nodeName itself (no scheduler runs).
  [[nodiscard]] Status StartNode(const DaemonConfig& config, store::Store& store, bool self_bind);
  // The node-local volume provisioner over `store`, and node_opts->pod_volumes over it.
  [[nodiscard]] Status StartVolumes(const DaemonConfig& config, store::Store& store,
                                    node::NodeOptions* node_opts);
  [[nodiscard]] Status StartControllers(const DaemonConfig& config);
  [[nodiscard]] Status StartScheduler();
  [[nodiscard]] Status StartRouter(const DaemonConfig& config, const client::HostPort& router_addr);
  [[nodiscard]] Status StartMirrorPods(const DaemonConfig& config);
  // /api/v1/nodes/NODE/proxy/asb/v1/images...: the image API of `node` (node_proxy.h).
  http::Response ServeNodeImages(http::Request& r, const std::string& node);
  // Writes DIR/kubeconfig and DIR/netrc and logs the addresses.
  [[nodiscard]] Status Announce(const apiserver::CertificatePair& cert,
                                const client::HostPort& router_addr);
  DaemonConfig config_;
  std::string token_;
  std::string api_url_;
  std::string kubeconfig_path_;
  std::string router_url_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<RemoteNodeDialer> remote_dialer_;  // before dialer_, which dials through it
  std::unique_ptr<NodeProxy> node_proxy_;        // before pod_streams_: other nodes' logs, images
  std::string local_node_;                       // this process's node ("" without the node role)
  std::unique_ptr<PodDialer> dialer_;            // before pod_streams_, which dials through it
  std::unique_ptr<NodePodStreams> pod_streams_;  // exec/attach/log: attached once the node runs
  std::unique_ptr<apiserver::ApiServer> api_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<apiserver::TlsFront> front_;
  std::unique_ptr<image::ImageStore> images_;
  std::unique_ptr<ImageApi> image_api_;  // /asb/v1/images (asbctl image)
  // What the HTTP handler reads (the server starts before the images exist).
  std::atomic<ImageApi*> image_api_ready_{nullptr};
  std::unique_ptr<runtime::Runtime> native_;
  std::unique_ptr<runtime::Runtime> gvisor_;
  std::unique_ptr<runtime::Runtime> simulated_;  // --simulate: the only runtime (docs/scale.md)
  // cpu.idle of the BestEffort sandboxes' parent group and of each Burstable sandbox's group
  std::unique_ptr<sys::CpuGovernor> cpu_governor_;
  PodNetworkSetup pod_network_;  // empty with podNetwork "none"
  std::unique_ptr<storage::LocalVolumes> volumes_;
  std::unique_ptr<storage::LocalProvisioner> provisioner_;
  std::unique_ptr<node::NodeAgent> node_;
  std::unique_ptr<controller::ControllerManager> controllers_;
  std::unique_ptr<router::Backend> backend_;  // SandboxBackend beside the node, else ApiBackend
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<router::RouterServer> router_;
  std::unique_ptr<MirrorPods> mirror_pods_;
  std::unique_ptr<controller::StateMetrics> state_metrics_;  // /metrics gauges over store_
  bool node_only_ = false;  // StartNodeOnly: `asbd node`, one node of several
  bool stopped_ = false;
};

// Runs the daemon until SIGINT or SIGTERM. Returns the process exit code.
int RunServe(const DaemonConfig& config, Roles roles = {});

}  // namespace asb::asbd
