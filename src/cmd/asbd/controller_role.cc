#include "cmd/asbd/controller_role.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "api/storage.h"
#include "base/log.h"
#include "client/kubeconfig.h"
#include "cmd/asbd/config.h"
#include "cmd/asbd/stop_signals.h"
#include "controller/manager.h"
#include "controller/object_util.h"
#include "http/server.h"
#include "kube/leader_election.h"
#include "kube/rest_store.h"
#include "metrics/metrics.h"

namespace asb::asbd {

namespace {

struct Health {
  std::atomic<bool> reached{false};  // the API server answered once
  std::atomic<bool> synced{false};   // and every read cache has listed: ready
  std::atomic<bool> stopping{false};
};

http::Response Serve(const http::Request& req, Health& health) {
  if (req.path == "/healthz" || req.path == "/livez")
    return health.stopping ? http::Response::Text(503, "stopping\n")
                           : http::Response::Text(200, "ok\n");
  if (req.path == "/readyz") {
    if (health.stopping) return http::Response::Text(503, "stopping\n");
    if (!health.reached) return http::Response::Text(503, "the API server has not been reached\n");
    if (!health.synced) return http::Response::Text(503, "the read caches have not listed yet\n");
    return http::Response::Text(200, "ok\n");
  }
  if (req.path == "/metrics")
    return http::Response::Text(200, metrics::Registry::Default().Render(),
                                std::string(metrics::kContentType));
  return http::Response::Text(404, "not found\n");
}

// What the reconcilers read (every Get/List of these kinds is answered from a list+watch cache,
// rest_store.h), and the reads that stay on the server.
kube::RestStoreOptions CachedReads() {
  kube::RestStoreOptions o;
  o.cached = {&api::SandboxResource(),
              &api::SandboxClaimResource(),
              &api::SandboxWarmPoolResource(),
              &api::SandboxTemplateResource(),
              &api::PodResource(),
              &api::ServiceResource(),
              &api::PersistentVolumeClaimResource()};
  // Live, as upstream reads claims' sandboxes "directly (APIReader)": the claim reconciler's
  // lookup of the Sandbox a claim already owns by its claim-uid label (FindOwned). A stale
  // "none" there (the cache behind an adoption this replica did not write, e.g. the one the
  // previous leader finished just before it was killed) would adopt a second warm member for
  // the claim. Everything else a stale read can cause ends in a compare-and-set conflict (warm
  // candidates, pods, pool members: the write carries the revision read) or a re-queue.
  o.read_live = [](const api::ResourceInfo& res, const store::ListOptions& lo) {
    return res.kind == "Sandbox" &&
           lo.label_selector.find(controller::kLabelClaimUid) != std::string::npos;
  };
  // A full re-list now and then heals a view that missed an event (the diff reaches the
  // controllers as events); the manager's own resync re-queues every object each minute.
  o.relist_period = std::chrono::minutes(10);
  return o;
}

}  // namespace

int RunController(const ControllerConfig& config) {
  const sigset_t set = BlockStopSignals();  // before any thread starts

  auto rc = kube::LoadRestConfig(config.kubeconfig);
  if (!rc) {
    fprintf(stderr, "asbd controller: %s\n", rc.error().message.c_str());
    return 2;
  }
  kube::TransportOptions to;
  to.qps = config.qps;
  to.burst = config.burst;
  auto store = kube::OpenRestStore(*rc, to, CachedReads());
  if (!store) {
    fprintf(stderr, "asbd controller: %s\n", store.error().message.c_str());
    return 2;
  }
  auto listen = client::ParseHostPort(config.listen);
  if (!listen) {
    fprintf(stderr, "asbd controller: --listen: %s\n", listen.error().message.c_str());
    return 2;
  }

  Health health;
  std::atomic<bool> leading{false};
  kube::Transport& transport = (*store)->transport();
  auto gauges = metrics::Registry::Default().AddCollector(
      "asb_controller_leader", "1 while this replica holds the leader Lease", {}, [&] {
        return std::vector<metrics::GaugeSample>{{{}, leading ? 1.0 : 0.0}};
      });
  auto requests = metrics::Registry::Default().AddCollector(
      "asb_kube_client_requests", "Requests sent to the Kubernetes API server (total)", {}, [&] {
        return std::vector<metrics::GaugeSample>{{{}, static_cast<double>(transport.requests())}};
      });
  kube::RestStore& rest = **store;
  auto reads = metrics::Registry::Default().AddCollector(
      "asb_kube_client_reads",
      "Reads of the controller's kinds by where they were answered (total): cache, live (kept on "
      "the server on purpose), fallback (the cache was not synced or behind our write in time)",
      {"source"}, [&] {
        kube::RestReadStats st = rest.read_stats();
        return std::vector<metrics::GaugeSample>{
            {{"cache"}, static_cast<double>(st.cache)},
            {{"live"}, static_cast<double>(st.live)},
            {{"fallback"}, static_cast<double>(st.fallback)},
            {{"waited_own_write"}, static_cast<double>(st.waited_ryw)}};
      });
  http::ServerOptions ho;
  ho.host = listen->host;
  ho.port = listen->port;
  ho.server_name = "asbd-controller";
  auto server =
      http::Server::Start(ho, [&health](http::Request& req) { return Serve(req, health); });
  if (!server) {
    fprintf(stderr, "asbd controller: --listen %s: %s\n", config.listen.c_str(),
            server.error().message.c_str());
    return 2;
  }

  kube::LeaderElectionOptions lo;
  lo.lease_namespace = !config.lease_namespace.empty() ? config.lease_namespace
                       : config.kubeconfig.empty()     ? rc->namespace_name
                                                       : "kube-system";
  lo.identity = config.identity;
  lo.lease_duration = config.lease_duration;
  lo.renew_deadline = config.renew_deadline;
  lo.retry_period = config.retry_period;
  kube::LeaderElector elector(**store, lo);

  // Signals end the wait for the lease or the renew loop; main carries on with the shutdown.
  std::thread signals([&] {
    const int sig = WaitForStopSignal(set);
    ASB_LOG(INFO, "asbd controller stopping", "signal", sig);
    health.stopping = true;
    elector.Stop();
  });
  signals.detach();

  // Ready once the API server answers (a standby replica is ready too: it is what takes over).
  while (!health.stopping) {
    auto ns = (*store)->Get(api::NamespaceResource(), "", "default");
    if (ns || ns.error().code == Code::kNotFound) break;
    ASB_LOG(WARN, "asbd controller: API server not reachable yet", "error", ns.error().message);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  health.reached = true;
  // Standbys keep their caches current too, so a takeover starts from a synced view.
  while (!health.stopping && !rest.WaitCachesSynced(std::chrono::seconds(1)))
    ASB_LOG(WARN, "asbd controller: read caches not synced yet");
  health.synced = true;
  ASB_LOG(INFO, "asbd controller running", "server", rc->host + ":" + std::to_string(rc->port),
          "listen", ho.host + ":" + std::to_string((*server)->port()), "identity",
          elector.identity(), "lease", lo.lease_namespace + "/" + lo.lease_name);

  int code = 0;
  if (!config.leader_elect || elector.Acquire()) {
    controller::ManagerOptions mo;
    mo.sandbox_workers = config.workers;
    mo.claim_workers = config.workers;
    mo.pool_workers = std::max(1, config.workers / 2);
    mo.refill_after_claim = std::chrono::milliseconds(DaemonConfig{}.refill_after_claim_ms);
    controller::ControllerManager mgr(**store, RealClock::Get(), mo);
    if (auto s = mgr.Start(); !s) {
      ASB_LOG(ERROR, "asbd controller: controllers failed to start", "error", s.error().message);
      code = 1;
    } else {
      leading = true;
      if (config.leader_elect) {
        bool orderly = elector.Renew();
        // Lost: stop reconciling now. The manager drains the reconciles in flight first; their
        // writes are compare-and-set, so the new leader's view wins any race.
        if (!orderly) code = 1;
      } else {
        while (!health.stopping) std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      leading = false;
      mgr.Stop();
      if (config.leader_elect && code == 0) {
        if (auto released = elector.Release(); !released)
          ASB_LOG(WARN, "asbd controller: releasing the lease failed", "error",
                  released.error().message);
      }
    }
  }
  health.stopping = true;
  (*server)->Stop();
  return code;
}

}  // namespace asb::asbd
