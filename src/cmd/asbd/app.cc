#include "cmd/asbd/app.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>

#include "apiserver/k8s_status.h"
#include "apiserver/tls_front.h"
#include "base/file_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "client/kubeconfig.h"
#include "cmd/asbd/api_backend.h"
#include "cmd/asbd/host_limits_setup.h"
#include "cmd/asbd/node_streams.h"
#include "cmd/asbd/stop_signals.h"
#include "runtime/native/native_runtime.h"
#include "runtime/runsc/runsc_runtime.h"
#include "runtime/simulated/simulated_runtime.h"
#include "storage/volume_binds.h"
#include "sys/cpu_governor.h"

namespace asb::asbd {

namespace {

// Loads DIR/token, or creates it on first start. Security: 0600, 256 random bits.
Result<std::string> LoadOrCreateToken(const std::string& path) {
  if (PathExists(path)) {
    ASB_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    std::string token(Trim(text));
    if (!token.empty()) return token;
  }
  std::string token = RandomHex(32);
  ASB_RETURN_IF_ERROR(AtomicWriteFile(path, token + "\n", 0600));
  return token;
}

std::string UrlFor(const char* scheme, std::string host, uint16_t port) {
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(scheme) + "://" + h + ":" + std::to_string(port);
}

// The serving certificate is created once and kept, so kubeconfigs stay valid across restarts.
// It is regenerated when the listen host is not among its names.
Result<apiserver::CertificatePair> LoadOrCreateCert(const std::string& dir,
                                                    const std::string& host) {
  std::string crt = dir + "/tls.crt", key = dir + "/tls.key", hosts_file = dir + "/tls.hosts";
  std::vector<std::string> hosts = {"127.0.0.1", "::1", "localhost"};
  if (host != "0.0.0.0" && host != "::" &&
      std::find(hosts.begin(), hosts.end(), host) == hosts.end())
    hosts.push_back(host);
  std::string hosts_line = Join(hosts, ",");
  if (PathExists(crt) && PathExists(key) && PathExists(hosts_file)) {
    auto saved = ReadFile(hosts_file);
    if (saved && Trim(*saved) == hosts_line) {
      ASB_ASSIGN_OR_RETURN(std::string c, ReadFile(crt));
      ASB_ASSIGN_OR_RETURN(std::string k, ReadFile(key));
      return apiserver::CertificatePair{c, k};
    }
  }
  ASB_ASSIGN_OR_RETURN(apiserver::CertificatePair pair, apiserver::GenerateSelfSignedCert(hosts));
  ASB_RETURN_IF_ERROR(AtomicWriteFile(key, pair.key_pem, 0600));
  ASB_RETURN_IF_ERROR(AtomicWriteFile(crt, pair.cert_pem, 0644));
  ASB_RETURN_IF_ERROR(AtomicWriteFile(hosts_file, hosts_line + "\n", 0644));
  return pair;
}

}  // namespace

Result<Roles> ParseRoles(const std::string& text) {
  Roles r{false, false, false, false, false};
  for (const std::string& part : Split(text, ',')) {
    std::string role(Trim(part));
    if (role == "apiserver") {
      r.apiserver = true;
    } else if (role == "controller") {
      r.controller = true;
    } else if (role == "node") {
      r.node = true;
    } else if (role == "router") {
      r.router = true;
    } else if (role == "scheduler") {
      r.scheduler = true;
    } else {
      return MakeError(Code::kInvalidArgument,
                       "--roles: unknown role \"" + role +
                           "\" (want a comma list of apiserver, scheduler, controller, node, "
                           "router)");
    }
  }
  if (!r.apiserver)
    return MakeError(Code::kInvalidArgument,
                     "--roles: the other roles run beside the apiserver role here (alone, run "
                     "`asbd controller`, `asbd node` or `asbd router` with --kubeconfig FILE)");
  return r;
}

Result<std::unique_ptr<Daemon>> Daemon::Start(const DaemonConfig& config, Roles roles) {
  if (config.state_dir.empty()) return MakeError(Code::kInvalidArgument, "no state dir given");
  ASB_ASSIGN_OR_RETURN(client::HostPort api_addr, client::ParseHostPort(config.api_listen));
  ASB_ASSIGN_OR_RETURN(client::HostPort router_addr, client::ParseHostPort(config.router_listen));
  std::unique_ptr<Daemon> d(new Daemon());
  d->config_ = config;
  ASB_RETURN_IF_ERROR(MakeDirs(config.state_dir, 0700));
  ::chmod(config.state_dir.c_str(), 0700);  // Security: token, key and database inside
  ASB_ASSIGN_OR_RETURN(d->token_, LoadOrCreateToken(config.state_dir + "/token"));

  auto store = store::SqliteStore::Open(config.state_dir);
  if (!store) return tl::unexpected(store.error().Wrap("open store in " + config.state_dir));
  d->store_ = std::move(*store);
  d->state_metrics_ = std::make_unique<controller::StateMetrics>(*d->store_);

  apiserver::ApiServerOptions api_opts;
  api_opts.token = d->token_;
  api_opts.advertise_address = config.api_listen;
  d->dialer_ = std::make_unique<PodDialer>(*d->store_);
  d->pod_streams_ = std::make_unique<NodePodStreams>(config.state_dir, *d->dialer_);
  // Pods bound to `asbd node` processes: their logs and image caches are behind those nodes.
  if (roles.node) d->local_node_ = config.node_name;
  d->node_proxy_ = std::make_unique<NodeProxy>(*d->store_, d->token_);
  d->pod_streams_->AttachRemote(d->node_proxy_.get(), d->local_node_);
  api_opts.pod_streams = d->pod_streams_.get();
  d->api_ = std::make_unique<apiserver::ApiServer>(*d->store_, api_opts);
  // The HTTP server listens on an internal loopback port; the public port is the TlsFront,
  // which relays TLS (kubectl) and plaintext (asbctl, Python client) connections to it.
  http::ServerOptions http_opts;
  http_opts.host = "127.0.0.1";
  http_opts.port = 0;
  http_opts.max_body_bytes = config.max_request_bytes;
  http_opts.server_name = "asbd";
  http_opts.render_error = apiserver::StatusResponse;  // a 413 here is a Kubernetes Status too
  // asbd's own image API (cmd/asbd/image_api.h) beside the Kubernetes API.
  http::Handler handler = [d = d.get(), api = d->api_->AsHandler()](http::Request& r) {
    if (r.path.rfind(kImageApiPrefix, 0) != 0) {
      if (r.path.rfind(kNodesPrefix, 0) == 0)
        if (std::string node = NodeProxy::ImageProxyNode(r.path); !node.empty())
          return d->ServeNodeImages(r, node);
      return api(r);
    }
    ImageApi* images = d->image_api_ready_.load();
    if (images == nullptr)
      return apiserver::StatusResponse(Error{Code::kUnavailable, "the image cache is not ready"});
    return images->Handle(r);
  };
  ASB_ASSIGN_OR_RETURN(d->server_, http::Server::Start(http_opts, handler));
  ASB_ASSIGN_OR_RETURN(apiserver::CertificatePair cert,
                       LoadOrCreateCert(config.state_dir, api_addr.host));
  ASB_ASSIGN_OR_RETURN(d->front_, apiserver::TlsFront::Start(api_addr.host, api_addr.port,
                                                             d->server_->port(), cert));
  d->api_url_ = UrlFor("https", api_addr.host, d->front_->port());

  if (roles.node) ASB_RETURN_IF_ERROR(d->StartNode(config, *d->store_, !roles.scheduler));
  if (!roles.node || roles.scheduler) {
    // Pods on `asbd node` processes: exec, attach and port-forward dial their stream ports.
    d->remote_dialer_ = std::make_unique<RemoteNodeDialer>(*d->store_, d->token_);
    d->dialer_->AttachRemote(d->remote_dialer_.get());
  }
  if (roles.scheduler) ASB_RETURN_IF_ERROR(d->StartScheduler());
  if (roles.controller) ASB_RETURN_IF_ERROR(d->StartControllers(config));
  if (roles.router) ASB_RETURN_IF_ERROR(d->StartRouter(config, router_addr));
  ASB_RETURN_IF_ERROR(d->StartMirrorPods(config));
  ASB_RETURN_IF_ERROR(d->Announce(cert, router_addr));
  return d;
}

http::Response Daemon::ServeNodeImages(http::Request& r, const std::string& node) {
  if (!BearerTokenMatches(r, token_))
    return apiserver::StatusResponse(Error{Code::kUnauthenticated, "Unauthorized"});
  if (node != local_node_) return node_proxy_->ForwardImages(r);
  // This process's own node: its image API without the hop.
  ImageApi* images = image_api_ready_.load();
  if (images == nullptr)
    return apiserver::StatusResponse(Error{Code::kUnavailable, "the image cache is not ready"});
  const size_t cut =
      r.target.find(kNodeProxyImages) + kNodeProxyImages.size() - kImageApiPrefix.size();
  r.target.erase(0, cut);
  r.path.erase(0, r.path.find(kNodeProxyImages) + kNodeProxyImages.size() - kImageApiPrefix.size());
  return images->Handle(r);
}

Status Daemon::StartNode(const DaemonConfig& config, store::Store& store, bool self_bind) {
  // Images and runtimes. gVisor is optional ("auto"): pods asking for it fail with a clear
  // reason when runsc can't run here, never silently falling back to native.
  image::ImageStoreOptions image_opts;
  image_opts.aliases.clear();
  for (const auto& a : config.image_aliases) image_opts.aliases.push_back({a.pattern, a.image});
  image_opts.registry.default_registry = config.default_registry;
  image_opts.registry.insecure_registries = {config.insecure_registries.begin(),
                                             config.insecure_registries.end()};
  image_opts.registry.mirrors = config.registry_mirrors;
  image_opts.registry.disk_budget_bytes = config.image_disk_budget_bytes;
  image_opts.registry.in_use = [this] {
    ImageApi* api = image_api_ready_.load();
    return api ? api->InUse() : std::set<std::string>();
  };
  images_ = std::make_unique<image::ImageStore>(config.state_dir, image_opts);
  image_api_ = std::make_unique<ImageApi>(store, *images_, token_);
  image_api_->CollectGarbageAtStart();  // before any pod of this node starts or pulls
  image_api_ready_ = image_api_.get();
  std::map<std::string, runtime::Runtime*> runtimes = {{"native", nullptr}, {"gvisor", nullptr}};
  // --simulate (scale tests): every class runs as records; no real runtime, pod network, cgroup
  // governor or volume is set up beside it, so nothing here can run a real sandbox.
  if (config.simulate) {
    ASB_LOG(WARN,
            "asbd --simulate: SIMULATED node: sandboxes are records that run nothing and are "
            "Ready at once; for scale tests only, never for isolation or behaviour",
            "node", config.node_name);
    simulated_ = std::make_unique<runtime::SimulatedRuntime>();
    runtimes = {{"native", simulated_.get()}, {"gvisor", simulated_.get()}};
  }
  if (config.host_limits && !config.simulate) RaiseHostLimitsForSandboxes();
  if (config.enable_native && !config.simulate) {
    runtime::native::NativeRuntimeOptions native_opts;
    native_opts.state_dir = config.state_dir;
    native_opts.cgroup.parent = config.cgroup_parent;
    auto native = runtime::native::NativeRuntime::Create(native_opts);
    if (!native) return tl::unexpected(native.error().Wrap("native runtime"));
    native_ = std::move(*native);
    runtimes["native"] = native_.get();
  }
  if (config.gvisor != "off" && !config.simulate) {
    runtime::runsc::RunscOptions runsc_opts;
    runsc_opts.state_dir = config.state_dir;
    runsc_opts.cgroup_parent = config.cgroup_parent;
    runsc_opts.runsc_path = config.runsc_path;
    runsc_opts.platform = config.runsc_platform;
    auto gvisor = runtime::runsc::RunscRuntime::Create(runsc_opts);
    if (gvisor) {
      gvisor_ = std::move(*gvisor);
      runtimes["gvisor"] = gvisor_.get();
    } else if (config.gvisor == "on") {
      return tl::unexpected(gvisor.error().Wrap("gvisor runtime"));
    } else {
      ASB_LOG(WARN, "gvisor runtime unavailable; pods with runtimeClassName gvisor will fail",
              "error", gvisor.error().message);
    }
  }

  // BestEffort sandboxes, and Burstable ones above their request, yield to all other work while
  // they keep the CPU busy (docs/cpu.md). Each node process governs its own cgroup parent.
  if (config.simulate) {
    // no cgroups to govern
  } else if (auto governor = sys::CpuGovernor::Start({.cgroup = {.parent = config.cgroup_parent}});
             governor) {
    cpu_governor_ = std::move(*governor);
  } else {
    ASB_LOG(WARN, "spinning sandboxes will compete with host work at full weight", "error",
            governor.error().message);
  }

  if (config.pod_network == "bridge" && !config.simulate) {
    auto net = StartPodNetwork(config, store, runtimes);
    if (!net)
      return tl::unexpected(net.error().Wrap("pod network (podNetwork \"none\" runs without one)"));
    pod_network_ = std::move(*net);
  }

  node::NodeOptions node_opts;
  node_opts.node_name = config.node_name;
  node_opts.default_runtime_class = config.default_runtime_class;
  node_opts.workers = config.node_workers;
  node_opts.bind_unbound = self_bind;
  node_opts.on_container_exited = [streams = pod_streams_.get()](const std::string& uid,
                                                                 const std::string& sandbox_id,
                                                                 std::string_view runtime) {
    streams->SavePrevious(uid, sandbox_id, runtime);
  };
  node_opts.on_pod_forgotten = [streams = pod_streams_.get()](const std::string& uid) {
    streams->Forget(uid);
  };
  // Volumes before the node: a recovered pod's restart may need its claim's volume. A simulated
  // node mounts none (its claims stay Pending).
  if (!config.simulate) ASB_RETURN_IF_ERROR(StartVolumes(config, store, &node_opts));
  node_ = std::make_unique<node::NodeAgent>(store, runtimes, *images_, node_opts);
  ASB_RETURN_IF_ERROR(node_->Start());
  pod_streams_->Attach(node_.get(), static_cast<runtime::native::NativeRuntime*>(native_.get()),
                       static_cast<runtime::runsc::RunscRuntime*>(gvisor_.get()));
  return OkStatus();
}

Status Daemon::StartVolumes(const DaemonConfig& config, store::Store& store,
                            node::NodeOptions* node_opts) {
  volumes_ = std::make_unique<storage::LocalVolumes>(config.state_dir);
  provisioner_ = std::make_unique<storage::LocalProvisioner>(
      store, *volumes_, RealClock::Get(),
      storage::ProvisionerOptions{.max_volume_bytes = config.max_volume_bytes,
                                  .node_name = config.node_name,
                                  .wait_for_first_consumer = node_only_});
  ASB_RETURN_IF_ERROR(provisioner_->Start());
  node_opts->pod_volumes = [store = &store, volumes = volumes_.get()](const Json& pod) {
    return storage::PodVolumeBinds(*store, *volumes, pod);
  };
  return OkStatus();
}

Result<std::unique_ptr<Daemon>> Daemon::StartNodeOnly(const DaemonConfig& config,
                                                      store::Store& store) {
  if (config.state_dir.empty()) return MakeError(Code::kInvalidArgument, "no state dir given");
  std::unique_ptr<Daemon> d(new Daemon());
  d->config_ = config;
  ASB_RETURN_IF_ERROR(MakeDirs(config.state_dir, 0700));
  ::chmod(config.state_dir.c_str(), 0700);  // Security: sandboxes' state inside
  d->dialer_ = std::make_unique<PodDialer>(store);
  d->pod_streams_ = std::make_unique<NodePodStreams>(config.state_dir, *d->dialer_);
  d->node_only_ = true;  // one of several nodes: volumes wait for their first consumer
  ASB_RETURN_IF_ERROR(d->StartNode(config, store, /*self_bind=*/false));
  d->dialer_->Attach(d->node_.get(), nullptr);
  return d;
}

Status Daemon::StartScheduler() {
  scheduler_ = std::make_unique<Scheduler>(*store_);
  return scheduler_->Start();
}

Status Daemon::StartControllers(const DaemonConfig& config) {
  controller::ManagerOptions ctl_opts;
  ctl_opts.sandbox_workers = config.controller_workers;
  ctl_opts.claim_workers = config.controller_workers;
  ctl_opts.pool_workers = std::max(1, config.controller_workers / 2);
  ctl_opts.refill_after_claim = std::chrono::milliseconds(config.refill_after_claim_ms);
  controllers_ =
      std::make_unique<controller::ControllerManager>(*store_, RealClock::Get(), ctl_opts);
  ASB_RETURN_IF_ERROR(controllers_->Start());
  return OkStatus();
}

Status Daemon::StartRouter(const DaemonConfig& config, const client::HostPort& router_addr) {
  // Beside the node: dial through it. Without it: to the pod IPs the Sandboxes report.
  if (node_)
    backend_ = std::make_unique<SandboxBackend>(*store_, *node_);
  else
    backend_ = std::make_unique<ApiBackend>(*store_);
  router::RouterOptions router_opts;
  router_opts.host = router_addr.host;
  router_opts.port = router_addr.port;
  router_opts.token = token_;  // Security: the router needs the same bearer token as the API
  auto router = router::RouterServer::Start(router_opts, *backend_);
  if (!router) return tl::unexpected(router.error().Wrap("router on " + config.router_listen));
  router_ = std::move(*router);
  std::string router_url = UrlFor("http", router_addr.host, router_->port());
  router_url_ = router_url;
  dialer_->Attach(node_.get(), router_.get());
  return OkStatus();
}

Status Daemon::StartMirrorPods(const DaemonConfig& config) {
  MirrorPodsOptions mirror_opts;
  mirror_opts.node_name = config.node_name;
  // In-process components: healthy while they run (Stop ends the mirror pods first).
  mirror_opts.healthy = [this](api::EmbeddedComponent c) {
    return c == api::EmbeddedComponent::kRouter ? router_ != nullptr : controllers_ != nullptr;
  };
  mirror_pods_ = std::make_unique<MirrorPods>(*store_, mirror_opts);
  ASB_RETURN_IF_ERROR(mirror_pods_->Start());
  return OkStatus();
}

Status Daemon::Announce(const apiserver::CertificatePair& cert,
                        const client::HostPort& router_addr) {
  const DaemonConfig& config = config_;
  const std::string& router_url = router_url_;
  client::Kubeconfig kc;
  kc.server = api_url_;
  kc.token = token_;
  kc.ca_data = apiserver::Base64Encode(cert.cert_pem);
  kc.router_server = router_url;
  kubeconfig_path_ = config.state_dir + "/kubeconfig";
  ASB_RETURN_IF_ERROR(client::WriteKubeconfig(kubeconfig_path_, kc));
  // A netrc beside it: HTTP clients that can't send a bearer header (upstream's Python SDK over
  // `requests`) send Basic auth from NETRC=DIR/netrc, which the router accepts (router/auth.h).
  std::string netrc;
  for (const std::string& host : {router_addr.host, std::string("localhost")}) {
    if (host == "localhost" && router_addr.host != "127.0.0.1") continue;
    netrc += "machine " + host + " login asb password " + token_ + "\n";
  }
  ASB_RETURN_IF_ERROR(AtomicWriteFile(config.state_dir + "/netrc", netrc, 0600));
  ASB_LOG(INFO, "asbd serving", "api", api_url_, "router", router_url, "state_dir",
          config.state_dir, "kubeconfig", kubeconfig_path_);
  return OkStatus();
}

Daemon::~Daemon() { Stop(); }

void Daemon::Stop() {
  if (stopped_) return;
  stopped_ = true;
  image_api_ready_ = nullptr;
  if (mirror_pods_) mirror_pods_->Stop();
  if (dialer_) dialer_->Detach();  // port-forward dials end before the node and router go
  // Reverse start order: no new traffic, no new reconciles, then the node (sandboxes keep
  // running; a restarted asbd re-adopts or cleans them).
  if (pod_streams_) {
    pod_streams_->Attach(nullptr, nullptr, nullptr);
    pod_streams_->AttachRemote(nullptr, "");
  }
  if (router_) router_->Stop();
  if (controllers_) controllers_->Stop();
  if (scheduler_) scheduler_->Stop();
  if (node_) node_->Stop();
  if (provisioner_) provisioner_->Stop();
  router_.reset();
  backend_.reset();
  controllers_.reset();
  scheduler_.reset();
  node_.reset();
  // The bridge goes once no sandbox holds an address (running ones keep theirs for the next
  // asbd).
  if (pod_network_.network) pod_network_.network->Shutdown();
  pod_network_ = {};
  gvisor_.reset();
  native_.reset();
  simulated_.reset();
  image_api_.reset();
  images_.reset();
  if (api_) api_->Shutdown();
  if (front_) front_->Stop();
  if (server_) server_->Stop();
  front_.reset();
  server_.reset();
  api_.reset();
  state_metrics_.reset();
  store_.reset();
}

int RunServe(const DaemonConfig& config, Roles roles) {
  const sigset_t set = BlockStopSignals();  // before any thread starts
  auto daemon = Daemon::Start(config, roles);
  if (!daemon) {
    ASB_LOG(ERROR, "asbd failed to start", "error", daemon.error().message);
    fprintf(stderr, "asbd: %s\n", daemon.error().message.c_str());
    return 1;
  }
  const int sig = WaitForStopSignal(set);
  ASB_LOG(INFO, "asbd stopping", "signal", sig);
  (*daemon)->Stop();
  return 0;
}

}  // namespace asb::asbd
