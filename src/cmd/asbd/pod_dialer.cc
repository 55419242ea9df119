#include "cmd/asbd/pod_dialer.h"

#include <mutex>

#include "api/resource.h"
#include "cmd/asbd/mirror_pods.h"

namespace asb::asbd {

void PodDialer::Attach(node::NodeAgent* node, router::RouterServer* router) {
  std::unique_lock l(mu_);
  node_ = node;
  router_ = router;
}

void PodDialer::AttachRemote(RemoteNodeDialer* remote) {
  std::unique_lock l(mu_);
  remote_ = remote;
}

namespace {

// The router mirror pod forwards the ports its containers declare (8080 when none are).
bool DeclaresPort(const Json& pod, uint16_t port) {
  bool any = false;
  if (const Json* cs = Find(pod, "spec.containers"); cs && cs->is_array())
    for (const auto& c : *cs)
      if (const Json* ps = Find(c, "ports"); ps && ps->is_array())
        for (const auto& p : *ps) {
          any = true;
          if (const Json* n = Find(p, "containerPort");
              n && n->is_number_integer() && n->get<int64_t>() == port)
            return true;
        }
  return !any && port == kRouterPodPort;
}

}  // namespace

Result<UniqueFd> PodDialer::Dial(const std::string& ns, const std::string& pod, uint16_t port) {
  std::shared_lock l(mu_);
  if (!node_ && !remote_) return MakeError(Code::kUnavailable, "asbd is shutting down");
  auto obj = store_.Get(api::PodResource(), ns, pod);
  if (!obj) return tl::unexpected(obj.error());
  switch (MirrorComponent(*obj)) {
    case api::EmbeddedComponent::kRouter:
      if (!DeclaresPort(*obj, port))
        return MakeError(Code::kFailedPrecondition,
                         "nothing listens on port " + std::to_string(port) +
                             " of this mirror pod: asbd's embedded router serves its "
                             "declared container port (" +
                             std::to_string(kRouterPodPort) + ")");
      if (!router_) return MakeError(Code::kUnavailable, "the embedded router is not running");
      return router_->ConnectTrusted();
    case api::EmbeddedComponent::kController:
      return MakeError(Code::kFailedPrecondition,
                       "nothing listens on port " + std::to_string(port) +
                           ": this mirror pod stands for asbd's in-process controller, which "
                           "serves no network port");
    case api::EmbeddedComponent::kNone:
      break;
  }
  if (!node_) return remote_->Dial(*obj, port);
  auto local = node_->DialPod(ns, pod, port);
  if (!local && local.error().code == Code::kNotFound && remote_ &&
      !GetString(*obj, "spec.nodeName").empty())
    return remote_->Dial(*obj, port);  // bound to another node
  return local;
}

}  // namespace asb::asbd
