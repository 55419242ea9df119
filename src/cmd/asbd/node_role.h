// `asbd node`: the node agent as a process of its own, a kubelet for an API server it reaches
// over the Kubernetes REST API (kube::RestStore): it registers a Node and heartbeats
// (node_heartbeat.h), runs the pods a scheduler bound to --node-name (images, runtimes, pod
// network: the embedded node's parts, cmd/asbd/app.h), reports their status, and serves the
// streams the API server relays (kubectl exec, attach, port-forward) on --listen, as
// kube-apiserver reaches a kubelet on :10250.
//
// The stream protocol (node_streams.h), plain HTTP/1.1, bearer token:
//   GET /healthz                                           200 ok
//   POST /asb/v1/dial/NS/POD/PORT  Upgrade: asb-tcp        101, then the connection is a byte
//                                                          relay to PORT inside the pod
// The API server finds the node from the pod's spec.nodeName, the Node's InternalIP and
// status.daemonEndpoints.kubeletEndpoint.Port (remote_node_dialer.h).
//
// Two node processes on one machine need their own --state-dir, --pod-cidr, --pod-bridge,
// --pod-nft-table and --cgroup-parent.
#pragma once

#include <string>

#include "cmd/asbd/config.h"

namespace asb::asbd {

struct NodeRoleConfig {
  std::string kubeconfig;                  // "" = the in-cluster service account
  std::string listen = "127.0.0.1:10250";  // the stream port; port 0 picks a free one
  // The token the API server's stream requests carry. "" = the kubeconfig's own bearer token
  // (asbd's API server dials with its one token).
  std::string token_file;
  DaemonConfig daemon;  // state dir, node name, runtimes, pod network, cgroup parent
  double qps = 200;
  int burst = 400;
};

// Runs until SIGINT/SIGTERM (exit 0; sandboxes keep running for the next `asbd node` on the
// same state dir). Exit 2 for a bad configuration, 1 when the node cannot start.
int RunNode(const NodeRoleConfig& config);

}  // namespace asb::asbd
