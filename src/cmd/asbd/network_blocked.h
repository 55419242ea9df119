// NetworkBlocked: what the pod firewall dropped of each sandbox's traffic, shown to its user
// (net/pod_network.h PodNetwork::Blocked counts the drops):
//   - a Warning Event "NetworkBlocked" on the Sandbox (`kubectl describe sandbox`, `kubectl get
//     events`), naming the last blocked destination, "egress to 172.31.254.2:8000/TCP", with the
//     count so far: one Event per sandbox, updated in place at most once a second, so a sandbox
//     hammering a blocked address costs one store write a second, not one per packet; its
//     ownerReference lets the store's GC remove it with the Sandbox;
//   - /metrics: asb_sandbox_network_blocked_total{namespace, sandbox, direction} for the live
//     sandboxes (a scrape-time family: a deleted sandbox's series goes with it).
// A thread polls the counts each second. Thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "metrics/metrics.h"
#include "net/pod_network.h"
#include "store/store.h"

namespace asb::asbd {

class NetworkBlocked {
 public:
  // Both must outlive this. Starts its thread.
  NetworkBlocked(store::Store& store, net::PodNetwork& network);
  ~NetworkBlocked() { Stop(); }
  void Stop();

  // Writes what changed since the last call (the thread calls it each second).
  void Flush();

 private:
  struct Owner {
    std::string ns, sandbox;  // the Sandbox's (or, without one, the pod's) name
  };
  std::vector<metrics::GaugeSample> Samples();

  store::Store& store_;
  net::PodNetwork& network_;
  std::mutex mu_;
  std::map<std::string, uint64_t> reported_;  // sandbox id -> changes written; guarded by mu_
  std::map<std::string, Owner> owners_;       // sandbox id -> names; guarded by mu_
  std::atomic<bool> stopping_{false};
  metrics::Registry::CollectorHandle collector_;
  std::thread thread_;
};

}  // namespace asb::asbd
