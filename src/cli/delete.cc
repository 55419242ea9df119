// asbctl delete KIND NAME | -f FILE|-
#include "cli/cli.h"

namespace asb::cli {

namespace {
int DeleteOne(Context& ctx, const api::ResourceInfo& res, const std::string& ns,
              const std::string& name) {
  auto deleted = ctx.client->Delete(res, ns, name);
  if (!deleted) return ReportError(ctx, deleted.error());
  fprintf(ctx.out, "%s deleted\n", ObjectRef(res, name).c_str());
  return kExitOk;
}
}  // namespace

int RunDelete(Context& ctx) {
  std::string file = ctx.args.Get("filename");
  const auto& pos = ctx.args.positional;
  if (!file.empty()) {
    if (!pos.empty()) {
      fprintf(ctx.err, "error: delete takes either -f FILE or KIND NAME\n");
      return kExitUsage;
    }
    auto docs = ReadManifests(file);
    if (!docs) return ReportError(ctx, docs.error());
    int rc = kExitOk;
    for (const Json& doc : *docs) {
      const api::ResourceInfo* res =
          api::FindByKind(GetString(doc, "apiVersion"), GetString(doc, "kind"));
      if (!res) {
        fprintf(ctx.err, "error: unknown kind \"%s\"\n", GetString(doc, "kind").c_str());
        rc = kExitError;
        continue;
      }
      std::string ns =
          res->namespaced ? GetString(doc, "metadata.namespace", ctx.namespace_name) : "";
      if (DeleteOne(ctx, *res, ns, GetString(doc, "metadata.name")) != kExitOk) rc = kExitError;
    }
    return rc;
  }
  if (pos.size() != 2) {
    fprintf(ctx.err, "error: usage: asbctl delete KIND NAME [-n NS] | -f FILE\n");
    return kExitUsage;
  }
  const api::ResourceInfo* res = api::FindByAnyName(pos[0]);
  if (!res) {
    fprintf(ctx.err, "error: the server doesn't have a resource type \"%s\"\n", pos[0].c_str());
    return kExitError;
  }
  return DeleteOne(ctx, *res, res->namespaced ? ctx.namespace_name : "", pos[1]);
}

}  // namespace asb::cli
