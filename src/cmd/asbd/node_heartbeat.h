// What a kubelet tells the API server about its node, for `asbd node`: it registers a core v1
// Node (labels kubernetes.io/hostname and /os, spec.podCIDR; status Ready with capacity and
// allocatable from this machine, addresses and daemonEndpoints.kubeletEndpoint naming the node's
// stream port, node_role.h), renews the node's Lease in kube-node-lease every renew interval
// (the heartbeat the scheduler checks, as the node lifecycle controller does), and rewrites the
// Node's status every status interval. Writes are compare-and-set, read-modify-write on conflict.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "base/result.h"
#include "store/store.h"

namespace asb::asbd {

struct NodeHeartbeatOptions {
  std::string node_name;
  std::string address;  // InternalIP: where the API server reaches the node's stream port
  uint16_t stream_port = 0;
  std::string pod_cidr;
  int64_t lease_duration_seconds = 40;  // the kubelet's defaults
  std::chrono::milliseconds renew_interval{10000};
  std::chrono::milliseconds status_interval{60000};
};

class NodeHeartbeat {
 public:
  NodeHeartbeat(store::Store& store, NodeHeartbeatOptions options);
  ~NodeHeartbeat();
  NodeHeartbeat(const NodeHeartbeat&) = delete;
  NodeHeartbeat& operator=(const NodeHeartbeat&) = delete;

  // Registers the Node, then its Lease, then the Node's Ready status (errors: the API
  // server's), then keeps them fresh on a thread of its own. A client that sees the Node Ready
  // finds its Lease.
  [[nodiscard]] Status Start();
  void Stop();  // idempotent; the Node stays registered (a kubelet's does)

 private:
  [[nodiscard]] Status RegisterNode();  // creates the Node (no status yet) and learns its uid
  [[nodiscard]] Status WriteNodeStatus();
  [[nodiscard]] Status RenewLease();
  void Loop();

  store::Store& store_;
  const NodeHeartbeatOptions options_;
  std::string node_uid_;  // for the Lease's owner reference; loop thread after Start
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace asb::asbd
