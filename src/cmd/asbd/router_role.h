// `asbd router`: the router alone, over the Kubernetes REST API (kube::RestStore) of a
// kube-apiserver or of `asbd serve --roles apiserver,...`. It resolves X-Sandbox-ID from a
// watch cache of Sandboxes to their pod IPs (api_backend.h) and proxies with the embedded
// router's header contract and authentication (router/router_server.h, router/auth.h). Replicas
// share nothing: run two behind one address, or give clients either.
#pragma once

#include <string>

namespace asb::asbd {

struct RouterConfig {
  std::string kubeconfig;  // "" = the in-cluster service account
  std::string listen = "127.0.0.1:8080";
  // The token clients send (Bearer, or Basic with it as the password). "" = the kubeconfig's
  // own bearer token (asbd's API token: the one token its clients hold).
  std::string token_file;
  double qps = 200;
  int burst = 400;
};

// Runs until SIGINT/SIGTERM (exit 0). Exit 2 for a bad configuration.
int RunRouter(const RouterConfig& config);

}  // namespace asb::asbd
