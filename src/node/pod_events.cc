#include "node/pod_events.h"

#include "api/resource.h"
#include "base/log.h"
#include "base/strings.h"

namespace asb::node {

void PodEvents::Scheduled(const Json& pod) {
  Record(pod, "Normal", "Scheduled",
         "Successfully assigned " + GetString(pod, "metadata.namespace") + "/" +
             GetString(pod, "metadata.name") + " to " + node_name_,
         "default-scheduler");
}

void PodEvents::Record(const Json& pod, std::string_view type, std::string_view reason,
                       std::string_view message, std::string_view component) {
  const std::string name = GetString(pod, "metadata.name");
  const std::string ns = GetString(pod, "metadata.namespace");
  const std::string uid = GetString(pod, "metadata.uid");
  const std::string ts = FormatRfc3339(clock_.Now());
  Json source = {{"component", std::string(component)}};
  if (component == "kubelet") source["host"] = node_name_;
  Json ev = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata",
       {{"name", name + "." + RandomHex(8)},
        {"namespace", ns},
        {"ownerReferences",
         Json::array({{{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", name}, {"uid", uid}}})}}},
      {"involvedObject",
       {{"apiVersion", "v1"},
        {"kind", "Pod"},
        {"name", name},
        {"namespace", ns},
        {"uid", uid},
        {"resourceVersion", GetString(pod, "metadata.resourceVersion")}}},
      {"reason", std::string(reason)},
      {"message", std::string(message)},
      {"type", std::string(type)},
      {"source", source},
      {"reportingComponent", std::string(component)},
      {"reportingInstance", node_name_},
      {"firstTimestamp", ts},
      {"lastTimestamp", ts},
      {"count", 1}};
  auto r = store_.Create(api::EventResource(), std::move(ev));
  if (!r) {
    ASB_LOG(WARN, "node: recording event failed", "reason", reason, "pod", ns + "/" + name, "error",
            r.error().message);
  }
}

}  // namespace asb::node
