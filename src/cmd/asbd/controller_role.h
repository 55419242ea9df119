// `asbd controller`: the embedded ControllerManager as a process of its own, over the Kubernetes
// REST API (kube::RestStore) of a kube-apiserver or of `asbd serve --roles apiserver,...`, with
// leader election on a Lease so that of several replicas one acts, and /healthz, /readyz and
// /metrics on --listen. A replica that loses the lease stops its controllers and exits 1 (as
// controller-runtime's manager does), to be restarted as a standby by its supervisor.
#pragma once

#include <chrono>
#include <string>

namespace asb::asbd {

struct ControllerConfig {
  std::string kubeconfig;  // "" = the in-cluster service account
  std::string listen = "127.0.0.1:8081";
  bool leader_elect = true;
  std::string lease_namespace;  // "" = the service account's namespace, else kube-system
  std::string identity;         // "" = hostname_pid_random
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  int workers = 4;  // per kind (sandbox, claim); pools use half
  double qps = 200;
  int burst = 400;
};

// Runs until SIGINT/SIGTERM (exit 0, lease released) or the lease is lost (exit 1). Exit 2 for
// a bad configuration.
int RunController(const ControllerConfig& config);

}  // namespace asb::asbd
