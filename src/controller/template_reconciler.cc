#include "controller/template_reconciler.h"

#include "api/resource.h"
#include "controller/object_util.h"
#include "controller/store_ops.h"

namespace asb::controller {

Result<Requeue> TemplateReconciler::Reconcile(const std::string& key) {
  std::string ns, name;
  if (!SplitKey(key, &ns, &name)) return MakeError(Code::kInvalidArgument, "bad key " + key);
  const api::ResourceInfo& res = api::SandboxTemplateResource();
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> tmpl, GetIfExists(store_, res, ns, name));
  if (!tmpl || IsDeleting(*tmpl)) return Requeue::None();
  std::string hash = NameHash(name);
  if (Label(*tmpl, kLabelTemplateRefHash) == hash) return Requeue::None();
  SetLabel(*tmpl, kLabelTemplateRefHash, hash);
  // CAS on the read resourceVersion; a conflict is retried by the queue with a fresh read.
  auto updated = store_.Update(res, std::move(*tmpl));
  if (!updated && updated.error().code != Code::kNotFound) return tl::unexpected(updated.error());
  return Requeue::None();
}

}  // namespace asb::controller
