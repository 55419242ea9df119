#include "cmd/asbd/router_role.h"

#include <signal.h>

#include "base/log.h"
#include "client/kubeconfig.h"
#include "cmd/asbd/api_backend.h"
#include "cmd/asbd/stop_signals.h"
#include "kube/rest_store.h"
#include "router/router_server.h"

namespace asb::asbd {

namespace {

int Fail(const std::string& what) {
  fprintf(stderr, "asbd router: %s\n", what.c_str());
  return 2;
}

}  // namespace

int RunRouter(const RouterConfig& config) {
  const sigset_t set = BlockStopSignals();  // before any thread starts

  auto rc = kube::LoadRestConfig(config.kubeconfig);
  if (!rc) return Fail(rc.error().message);
  auto token = kube::BearerToken(*rc, config.token_file);
  if (!token) return Fail(token.error().message);
  auto listen = client::ParseHostPort(config.listen);
  if (!listen) return Fail("--listen: " + listen.error().message);
  kube::TransportOptions to;
  to.qps = config.qps;
  to.burst = config.burst;
  kube::RestStoreOptions so;
  so.field_manager = "asbd-router";
  auto store = kube::OpenRestStore(*rc, to, so);
  if (!store) return Fail(store.error().message);

  ApiBackend backend(**store);
  router::RouterOptions ro;
  ro.host = listen->host;
  ro.port = listen->port;
  ro.token = *token;
  auto router = router::RouterServer::Start(ro, backend);
  if (!router) return Fail("--listen " + config.listen + ": " + router.error().message);
  if (!backend.WaitSynced(std::chrono::seconds(5)))
    ASB_LOG(WARN, "asbd router: no Sandbox list yet; serving by reading the API server");
  ASB_LOG(INFO, "asbd router running", "server", rc->host + ":" + std::to_string(rc->port),
          "listen", (*router)->url());
  const int sig = WaitForStopSignal(set);
  ASB_LOG(INFO, "asbd router stopping", "signal", sig);
  (*router)->Stop();
  return 0;
}

}  // namespace asb::asbd
