#include "node/pod_writer.h"

#include <algorithm>

#include "api/object_meta.h"
#include "api/resource.h"
#include "store/store_util.h"

namespace asb::node {

bool HasSandboxFinalizer(const Json& pod) { return api::HasFinalizer(pod, kSandboxFinalizer); }

Result<Json> PodWriter::Bind(Json pod, const std::string& node) {
  pod["spec"]["nodeName"] = node;
  return store_.Update(api::PodResource(), std::move(pod));
}

Result<Json> PodWriter::AddFinalizer(Json pod) {
  if (!pod["metadata"].contains("finalizers") || !pod["metadata"]["finalizers"].is_array()) {
    pod["metadata"]["finalizers"] = Json::array();
  }
  pod["metadata"]["finalizers"].push_back(kSandboxFinalizer);
  return store_.Update(api::PodResource(), std::move(pod));
}

Status PodWriter::RemoveFinalizer(const std::string& ns, const std::string& name,
                                  const std::string& uid) {
  auto removed = store::UpdateWithRetry(
      store_, api::PodResource(), ns, name, [&](store::Object& obj) -> Status {
        if (GetString(obj, "metadata.uid") != uid) return store::NoChange();
        Json* f = obj["metadata"].contains("finalizers") ? &obj["metadata"]["finalizers"] : nullptr;
        if (f == nullptr || !f->is_array()) return store::NoChange();
        auto it = std::find(f->begin(), f->end(), Json(kSandboxFinalizer));
        if (it == f->end()) return store::NoChange();
        f->erase(it);
        return OkStatus();
      });
  if (!removed && removed.error().code != Code::kNotFound) return tl::unexpected(removed.error());
  return OkStatus();
}

Status PodWriter::WriteStatus(Json& pod, const PodView& view, SystemTime now) {
  const Json old = pod.value("status", Json::object());
  Json status = ComputePodStatus(pod, view, old, now);
  if (status == old) return OkStatus();
  Json obj = pod;
  obj["status"] = std::move(status);
  store::UpdateOptions uo;
  uo.status_only = true;
  auto updated = store_.Update(api::PodResource(), std::move(obj), uo);
  if (!updated) {
    if (updated.error().code == Code::kNotFound) return OkStatus();
    return tl::unexpected(updated.error());
  }
  pod = std::move(*updated);
  return OkStatus();
}

}  // namespace asb::node
