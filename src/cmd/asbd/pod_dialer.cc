#include "cmd/asbd/pod_dialer.h"

#include <mutex>

#include "api/resource.h"

namespace asb::asbd {

void PodDialer::Attach(node::NodeAgent* node, router::RouterServer* router) {
  std::unique_lock l(mu_);
  node_ = node;
  router_ = router;
}

Result<UniqueFd> PodDialer::Dial(const std::string& ns, const std::string& pod, uint16_t port) {
  std::shared_lock l(mu_);
  if (!node_) return MakeError(Code::kUnavailable, "asbd is shutting down");
  return node_->DialPod(ns, pod, port);
}

}  // namespace asb::asbd
