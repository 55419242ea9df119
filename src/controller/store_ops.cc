#include "controller/store_ops.h"

namespace asb::controller {

Result<std::optional<store::Object>> GetIfExists(store::Store& store, const api::ResourceInfo& res,
                                                 const std::string& ns, const std::string& name) {
  Result<store::Object> got = store.Get(res, ns, name);
  if (got) return std::optional<store::Object>(std::move(*got));
  if (got.error().code == Code::kNotFound) return std::optional<store::Object>();
  return tl::unexpected(got.error());
}

Status DeleteIfExists(store::Store& store, const api::ResourceInfo& res, const std::string& ns,
                      const std::string& name, const std::string& uid,
                      const std::string& resource_version) {
  store::DeleteOptions opts;
  if (!uid.empty()) opts.precondition_uid = uid;
  if (!resource_version.empty()) opts.precondition_resource_version = resource_version;
  Result<store::Object> del = store.Delete(res, ns, name, opts);
  if (del || del.error().code == Code::kNotFound) return OkStatus();
  return tl::unexpected(del.error());
}

Result<bool> WriteStatusIfChanged(store::Store& store, const api::ResourceInfo& res,
                                  const store::Object& obj, const Json& status) {
  auto it = obj.find("status");
  if (it != obj.end() && *it == status) return false;
  store::Object out = obj;
  out["status"] = status;
  if (out.contains("metadata") && out["metadata"].is_object())
    out["metadata"].erase("resourceVersion");
  store::UpdateOptions opts;
  opts.status_only = true;
  Result<store::Object> r = store.Update(res, std::move(out), opts);
  if (!r) return tl::unexpected(r.error());
  return true;
}

}  // namespace asb::controller
