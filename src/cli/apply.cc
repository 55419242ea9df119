// asbctl apply -f FILE|-: creates each object, or merge-patches it when it exists.
#include "api/patch.h"
#include "cli/cli.h"

namespace asb::cli {

int RunApply(Context& ctx) {
  std::string file = ctx.args.Get("filename");
  if (file.empty() || !ctx.args.positional.empty()) {
    fprintf(ctx.err, "error: apply needs -f FILE|- and no other arguments\n");
    return kExitUsage;
  }
  auto docs = ReadManifests(file);
  if (!docs) return ReportError(ctx, docs.error());
  int rc = kExitOk;
  for (Json& doc : *docs) {
    std::string api_version = GetString(doc, "apiVersion");
    std::string kind = GetString(doc, "kind");
    const api::ResourceInfo* res = api::FindByKind(api_version, kind);
    if (!res) {
      fprintf(ctx.err, "error: %s: unknown kind \"%s\" in apiVersion \"%s\"\n", file.c_str(),
              kind.c_str(), api_version.c_str());
      rc = kExitError;
      continue;
    }
    std::string name = GetString(doc, "metadata.name");
    std::string ns =
        res->namespaced ? GetString(doc, "metadata.namespace", ctx.namespace_name) : "";
    if (res->namespaced && doc["metadata"].is_object()) doc["metadata"]["namespace"] = ns;
    doc.erase("status");
    auto current = name.empty() ? Result<Json>(MakeError(Code::kNotFound, ""))
                                : ctx.client->Get(*res, ns, name);
    if (!current && current.error().code != Code::kNotFound) {
      rc = ReportError(ctx, current.error());
      continue;
    }
    if (!current) {
      auto created = ctx.client->Create(*res, ns, doc);
      if (!created) {
        rc = ReportError(ctx, created.error());
        continue;
      }
      fprintf(ctx.out, "%s created\n",
              ObjectRef(*res, GetString(*created, "metadata.name")).c_str());
      continue;
    }
    // Unchanged when the merge patch would leave the stored object as it is.
    auto merged = api::ApplyMergePatch(*current, doc);
    if (merged && *merged == *current) {
      fprintf(ctx.out, "%s unchanged\n", ObjectRef(*res, name).c_str());
      continue;
    }
    auto patched = ctx.client->Patch(*res, ns, name, doc);
    if (!patched) {
      rc = ReportError(ctx, patched.error());
      continue;
    }
    fprintf(ctx.out, "%s configured\n", ObjectRef(*res, name).c_str());
  }
  return rc;
}

}  // namespace asb::cli
