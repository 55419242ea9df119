// CRUD, patch, status and scale handlers. Every write goes through Prepare(): decode, check
// identity (apiVersion/kind/namespace/name), strict field check + pruning, defaulting,
// validation; only then the store.
#include "api/limits.h"
#include "api/patch.h"
#include "api/schema.h"
#include "api/validation.h"
#include "api/workloads.h"
#include "apiserver/internal.h"
#include "apiserver/k8s_status.h"
#include "apiserver/protobuf_body.h"
#include "base/strings.h"
#include "base/yaml.h"

namespace asb::apiserver::internal {

namespace {

constexpr int kPatchRetries = 5;

http::Response JsonReply(int code, const Json& body, const std::vector<std::string>& warnings) {
  http::Response r = http::Response::Json(code, body);
  for (const auto& w : warnings) r.headers.Add("Warning", "299 - " + DumpJson(Json(w)));
  return r;
}

tl::unexpected<Error> MethodNotAllowed(const std::string& method) {
  return MakeError(
      Code::kUnimplemented,
      "the server does not allow this method on the requested resource (" + method + ")");
}

tl::unexpected<Error> UnsupportedMediaType(const std::string& type, const std::string& accepted) {
  return MakeError(Code::kInvalidArgument, "UnsupportedMediaType",
                   "the body of the request was in an unknown format (" + type +
                       ") - accepted media types include: " + accepted);
}

tl::unexpected<Error> BadRequest(std::string message) {
  return MakeError(Code::kInvalidArgument, std::move(message));
}

// Kubernetes knows one dry-run value, "All"; anything else is refused, never taken as a real write.
Result<bool> DryRunValue(const std::string& value) {
  if (value == "All") return true;
  return BadRequest("dryRun: Unsupported value: \"" + value + "\": supported values: \"All\"");
}

Result<bool> QueryDryRun(const http::Request& req) {
  auto v = req.Query("dryRun");
  if (!v) return false;
  return DryRunValue(*v);
}

// Decodes a JSON or YAML request body.
Result<Json> DecodeBody(const http::Request& req) {
  std::string type = MediaType(req.headers.GetOr("Content-Type", ""));
  Result<Json> parsed;
  if (type.empty() || type == "application/json") {
    parsed = ParseJson(req.body);
  } else if (type == "application/yaml" || type == "application/x-yaml" || type == "text/yaml") {
    parsed = ParseYaml(req.body);
  } else if (type == kProtobufMediaType) {
    parsed = DecodeProtobufObject(req.body);  // kubectl create namespace/service
  } else {
    return UnsupportedMediaType(type, "application/json, application/yaml");
  }
  if (!parsed)
    return BadRequest("the request body could not be decoded: " + parsed.error().message);
  return std::move(*parsed);
}

// A decoded or patched object over api/limits.h's bounds: 413 for size (as kube-apiserver
// answers an object etcd would refuse), 400 for nesting.
tl::unexpected<Error> LimitError(const Error& e) {
  if (e.code == Code::kResourceExhausted)
    return MakeError(Code::kResourceExhausted, "RequestEntityTooLarge",
                     "Request entity too large: " + e.message);
  return BadRequest(e.message);
}

// Checks limits and identity, handles unknown fields per fieldValidation, defaults and
// validates `obj`. `current` is the stored object for updates (its status is kept on
// main-resource writes, and update rules compare against it).
Result<Json> Prepare(Ctx& ctx, Json obj, const Json* current, std::vector<std::string>* warnings) {
  const api::ResourceInfo& res = *ctx.target.res;
  if (!obj.is_object()) return BadRequest("the request body must be a JSON object");
  // First, so nothing below (pruning, validation messages that print values) walks an object
  // deeper or larger than any stored object may be.
  if (Status limits = api::CheckObjectLimits(obj); !limits) return LimitError(limits.error());
  std::string api_version = GetString(obj, "apiVersion");
  std::string kind = GetString(obj, "kind");
  if (!api_version.empty() && api_version != res.ApiVersion())
    return BadRequest("the API version in the data (" + api_version +
                      ") does not match the expected API version (" + res.ApiVersion() + ")");
  if (!kind.empty() && kind != res.kind)
    return BadRequest("the kind in the data (" + kind + ") does not match the expected kind (" +
                      res.kind + ")");
  obj["apiVersion"] = res.ApiVersion();
  obj["kind"] = res.kind;
  if (!obj.contains("metadata") || obj["metadata"].is_null()) obj["metadata"] = Json::object();
  if (!obj["metadata"].is_object()) return BadRequest("metadata must be an object");
  Json& meta = obj["metadata"];
  if (res.namespaced) {
    std::string ns = GetString(meta, "namespace");
    if (!ns.empty() && ns != ctx.target.ns)
      return BadRequest(
          "the namespace of the provided object does not match the "
          "namespace sent on the request");
    meta["namespace"] = ctx.target.ns;
  } else {
    meta.erase("namespace");
  }
  if (!ctx.target.name.empty()) {
    std::string name = GetString(meta, "name");
    if (name.empty()) {
      meta["name"] = ctx.target.name;
    } else if (name != ctx.target.name) {
      return BadRequest("the name of the object (" + name +
                        ") does not match the name on the URL (" + ctx.target.name + ")");
    }
  }

  std::string mode = ctx.req.Query("fieldValidation").value_or("Warn");
  if (mode != "Strict" && mode != "Warn" && mode != "Ignore")
    return BadRequest("fieldValidation parameter unsupported: \"" + mode +
                      "\"; must be one of Ignore, Warn or Strict");
  std::vector<std::string> unknown =
      api::FindUnknownFields(api::KindSchema(res), obj, /*prune=*/true);
  if (!unknown.empty() && mode == "Strict") {
    std::string msg = res.kind + " in version \"" + res.version + "\" cannot be handled as a " +
                      res.kind + ": strict decoding error: ";
    for (size_t i = 0; i < unknown.size(); ++i)
      msg += (i ? ", " : "") + std::string("unknown field \"") + unknown[i] + "\"";
    return BadRequest(msg);
  }
  if (mode == "Warn")
    for (const auto& u : unknown) warnings->push_back("unknown field \"" + u + "\"");

  // Main-resource writes never change status (it has its own subresource); status writes
  // change nothing else (Update() builds them from the stored object).
  if (res.has_status && ctx.target.sub != "status") {
    if (current && current->contains("status"))
      obj["status"] = (*current)["status"];
    else
      obj.erase("status");
  }
  api::ApplyDefaults(res, obj);
  api::FieldErrors errors = api::ValidateObject(res, obj);
  if (current && ctx.target.sub != "status") {
    api::FieldErrors update = api::ValidateUpdate(res, *current, obj);
    errors.insert(errors.end(), update.begin(), update.end());
  }
  if (current && ctx.target.sub == "status") {
    api::FieldErrors update = api::ValidateStatusUpdate(res, *current, obj);
    errors.insert(errors.end(), update.begin(), update.end());
  }
  if (errors.empty()) errors = api::AdmitStoredOnly(res, obj, warnings);
  if (!errors.empty()) {
    std::string name = GetString(obj, "metadata.name");
    if (name.empty()) name = GetString(obj, "metadata.generateName");
    return tl::unexpected(InvalidError(res, name, errors));
  }
  return obj;
}

// --- read -------------------------------------------------------------------------------------

Result<http::Response> List(Ctx& ctx) {
  store::ListOptions opts;
  opts.label_selector = ctx.req.Query("labelSelector").value_or("");
  opts.field_selector = ctx.req.Query("fieldSelector").value_or("");
  opts.continue_token = ctx.req.Query("continue").value_or("");
  if (auto limit = ctx.req.Query("limit"); limit && !limit->empty()) {
    auto n = ParseInt(*limit);
    if (!n || *n < 0) return BadRequest("invalid limit: \"" + *limit + "\"");
    opts.limit = *n;
  }
  auto listed = ctx.store.List(*ctx.target.res, ctx.target.ns, opts);
  if (!listed) return tl::unexpected(ObjectError(listed.error(), ctx.target.res, ""));
  std::string rv = std::to_string(listed->resource_version);
  // Both shapes carry the continue token: kubectl's plain `get` asks for Tables with limit=500
  // and pages on metadata.continue, so a Table without it silently ends the listing.
  Json meta = {{"resourceVersion", rv}};
  if (!listed->continue_token.empty()) meta["continue"] = listed->continue_token;
  if (WantsTable(ctx.req)) {
    Json table = MakeTable(*ctx.target.res, listed->items, rv, ctx.clock.Now(), true,
                           ctx.req.Query("includeObject").value_or("Metadata"));
    table["metadata"] = std::move(meta);
    return http::Response::Json(200, table);
  }
  Json items = Json::array();
  for (auto& item : listed->items) items.push_back(std::move(item));
  return http::Response::Json(200, {{"kind", ctx.target.res->ListKind()},
                                    {"apiVersion", ctx.target.res->ApiVersion()},
                                    {"metadata", meta},
                                    {"items", std::move(items)}});
}

http::Response ObjectReply(Ctx& ctx, int code, const Json& obj,
                           const std::vector<std::string>& warnings = {}) {
  if (WantsTable(ctx.req) && ctx.req.method == "GET")
    return JsonReply(
        code,
        MakeTable(*ctx.target.res, {obj}, GetString(obj, "metadata.resourceVersion"),
                  ctx.clock.Now(), true, ctx.req.Query("includeObject").value_or("Metadata")),
        warnings);
  return JsonReply(code, obj, warnings);
}

Result<Json> GetCurrent(Ctx& ctx) {
  auto got = ctx.store.Get(*ctx.target.res, ctx.target.ns, ctx.target.name);
  if (!got) return tl::unexpected(ObjectError(got.error(), ctx.target.res, ctx.target.name));
  return std::move(*got);
}

// --- write ------------------------------------------------------------------------------------

Result<http::Response> Create(Ctx& ctx) {
  if (ctx.target.res->namespaced && ctx.target.ns.empty())
    return MethodNotAllowed("POST without a namespace");
  auto body = DecodeBody(ctx.req);
  if (!body) return tl::unexpected(body.error());
  std::vector<std::string> warnings;
  auto obj = Prepare(ctx, std::move(*body), nullptr, &warnings);
  if (!obj) return tl::unexpected(obj.error());
  if (ctx.dry_run) return JsonReply(201, *obj, warnings);
  std::string name = GetString(*obj, "metadata.name");
  auto created = ctx.store.Create(*ctx.target.res, std::move(*obj));
  if (!created) return tl::unexpected(ObjectError(created.error(), ctx.target.res, name));
  return JsonReply(201, *created, warnings);
}

Result<Json> StoreUpdate(Ctx& ctx, Json obj) {
  store::UpdateOptions opts;
  opts.status_only = ctx.target.sub == "status";
  if (ctx.dry_run) return obj;
  auto updated = ctx.store.Update(*ctx.target.res, std::move(obj), opts);
  if (!updated)
    return tl::unexpected(ObjectError(updated.error(), ctx.target.res, ctx.target.name));
  return std::move(*updated);
}

Result<http::Response> Update(Ctx& ctx) {
  auto body = DecodeBody(ctx.req);
  if (!body) return tl::unexpected(body.error());
  auto current = GetCurrent(ctx);
  if (!current) return tl::unexpected(current.error());
  Json incoming = std::move(*body);
  if (ctx.target.sub == "status" && incoming.is_object()) {
    // Only .status is taken from a status write.
    Json merged = *current;
    merged["status"] = incoming.value("status", Json::object());
    if (const Json* rv = Find(incoming, "metadata.resourceVersion"))
      merged["metadata"]["resourceVersion"] = *rv;
    else
      merged["metadata"].erase("resourceVersion");
    incoming = std::move(merged);
  }
  std::vector<std::string> warnings;
  auto obj = Prepare(ctx, std::move(incoming), &*current, &warnings);
  if (!obj) return tl::unexpected(obj.error());
  auto updated = StoreUpdate(ctx, std::move(*obj));
  if (!updated) return tl::unexpected(updated.error());
  return JsonReply(200, *updated, warnings);
}

// A PATCH body, decoded once per request (retries re-apply it to the newer object).
struct PatchBody {
  enum class Type { kJson, kMerge, kStrategic } type;
  Json patch;
  // The patch itself sets metadata.resourceVersion: a conflict is then the caller's to see,
  // not ours to retry (as kube-apiserver does).
  bool pins_version = false;
};

Result<PatchBody> DecodePatch(const http::Request& req) {
  std::string type = MediaType(req.headers.GetOr("Content-Type", ""));
  PatchBody body{};
  if (type == "application/json-patch+json") {
    body.type = PatchBody::Type::kJson;
  } else if (type == "application/merge-patch+json") {
    body.type = PatchBody::Type::kMerge;
  } else if (type == "application/strategic-merge-patch+json") {
    body.type = PatchBody::Type::kStrategic;
  } else {
    return UnsupportedMediaType(type,
                                "application/json-patch+json, application/merge-patch+json, "
                                "application/strategic-merge-patch+json");
  }
  auto patch = ParseJson(req.body);
  if (!patch) return BadRequest("the patch could not be decoded: " + patch.error().message);
  body.patch = std::move(*patch);
  if (body.type == PatchBody::Type::kJson) {
    if (body.patch.is_array())
      for (const Json& op : body.patch)
        if (op.is_object() && GetString(op, "path") == "/metadata/resourceVersion")
          body.pins_version = true;
  } else if (const Json* rv = Find(body.patch, "metadata.resourceVersion")) {
    body.pins_version = rv->is_string() && !rv->get<std::string>().empty();
  }
  return body;
}

// Applies a decoded PATCH body to `original`.
Result<Json> ApplyPatch(const PatchBody& body, const Json& original, const api::Schema* schema) {
  Result<Json> out = body.type == PatchBody::Type::kJson ? api::ApplyJsonPatch(original, body.patch)
                     : body.type == PatchBody::Type::kMerge
                         ? api::ApplyMergePatch(original, body.patch)
                         : api::ApplyStrategicMergePatch(original, body.patch, schema);
  if (!out) {
    if (out.error().code == Code::kResourceExhausted) return LimitError(out.error());
    return BadRequest(out.error().message);
  }
  return std::move(*out);
}

Result<http::Response> Patch(Ctx& ctx) {
  const api::Schema& schema = api::KindSchema(*ctx.target.res);
  ASB_ASSIGN_OR_RETURN(const PatchBody body, DecodePatch(ctx.req));
  for (int attempt = 0;; ++attempt) {
    ASB_ASSIGN_OR_RETURN(const Json current, GetCurrent(ctx));
    ASB_ASSIGN_OR_RETURN(Json obj, ApplyPatch(body, current, &schema));
    if (!body.pins_version && obj.is_object() && obj["metadata"].is_object())
      obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"];
    std::vector<std::string> warnings;
    ASB_ASSIGN_OR_RETURN(Json prepared, Prepare(ctx, std::move(obj), &current, &warnings));
    auto updated = StoreUpdate(ctx, std::move(prepared));
    if (updated) return JsonReply(200, *updated, warnings);
    // Only a stale resourceVersion that we filled in is ours to retry.
    if (updated.error().code != Code::kAborted || body.pins_version || attempt + 1 >= kPatchRetries)
      return tl::unexpected(updated.error());
  }
}

// --- scale ------------------------------------------------------------------------------------

Json ToScale(const Json& obj) {
  const Json& meta = obj["metadata"];
  Json scale_meta = Json::object();
  for (const char* k : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"})
    if (meta.contains(k)) scale_meta[k] = meta[k];
  const Json* spec_replicas = Find(obj, "spec.replicas");
  const Json* status_replicas = Find(obj, "status.replicas");
  Json status = {{"replicas", status_replicas && status_replicas->is_number_integer()
                                  ? status_replicas->get<int64_t>()
                                  : 0}};
  std::string selector = GetString(obj, "status.selector");
  if (!selector.empty()) status["selector"] = selector;
  return {
      {"kind", "Scale"},
      {"apiVersion", "autoscaling/v1"},
      {"metadata", scale_meta},
      {"spec",
       {{"replicas",
         spec_replicas && spec_replicas->is_number_integer() ? spec_replicas->get<int64_t>() : 0}}},
      {"status", status}};
}

Result<http::Response> Scale(Ctx& ctx) {
  if (ctx.req.method == "GET") {
    ASB_ASSIGN_OR_RETURN(const Json current, GetCurrent(ctx));
    return http::Response::Json(200, ToScale(current));
  }
  Json incoming;
  std::optional<PatchBody> patch;
  if (ctx.req.method == "PUT") {
    ASB_ASSIGN_OR_RETURN(incoming, DecodeBody(ctx.req));
  } else {
    ASB_ASSIGN_OR_RETURN(patch, DecodePatch(ctx.req));
  }
  for (int attempt = 0;; ++attempt) {
    ASB_ASSIGN_OR_RETURN(const Json current, GetCurrent(ctx));
    Json wanted = incoming;
    if (patch) {
      ASB_ASSIGN_OR_RETURN(wanted, ApplyPatch(*patch, ToScale(current), nullptr));
    }
    const Json* replicas = Find(wanted, "spec.replicas");
    if (!replicas || !replicas->is_number_integer())
      return tl::unexpected(InvalidError(
          *ctx.target.res, ctx.target.name,
          {{api::FieldErrorType::kRequired, "spec.replicas", nullptr, "an integer is required"}}));
    Json obj = current;
    obj["spec"]["replicas"] = *replicas;
    std::string rv = GetString(wanted, "metadata.resourceVersion");
    bool pinned = !rv.empty() && rv != GetString(current, "metadata.resourceVersion");
    if (pinned) obj["metadata"]["resourceVersion"] = rv;
    // Validated and written as a main-resource update: Prepare and StoreUpdate treat every
    // subresource but "status" so.
    std::vector<std::string> warnings;
    ASB_ASSIGN_OR_RETURN(Json prepared, Prepare(ctx, std::move(obj), &current, &warnings));
    auto updated = StoreUpdate(ctx, std::move(prepared));
    if (updated) return http::Response::Json(200, ToScale(*updated));
    if (updated.error().code != Code::kAborted || pinned || attempt + 1 >= kPatchRetries)
      return tl::unexpected(updated.error());
  }
}

// --- delete -----------------------------------------------------------------------------------

// kubectl sends `--dry-run=server` for deletes in the DeleteOptions body (`"dryRun": ["All"]`),
// not in the query: a body that asks for a dry run marks the whole request as one (ctx.dry_run).
Result<store::DeleteOptions> DeleteOptionsFrom(Ctx& ctx) {
  const http::Request& req = ctx.req;
  store::DeleteOptions opts;
  std::string policy = req.Query("propagationPolicy").value_or("");
  if (!Trim(req.body).empty()) {
    auto body = ParseJson(req.body);
    if (!body || !body->is_object())
      return BadRequest("the DeleteOptions body could not be decoded");
    if (const Json* dry = Find(*body, "dryRun"); dry && !dry->is_null()) {
      if (!dry->is_array()) return BadRequest("dryRun: Invalid value: must be a list");
      for (const Json& v : *dry) {
        auto ok = DryRunValue(v.is_string() ? v.get<std::string>() : DumpJson(v));
        if (!ok) return tl::unexpected(ok.error());
        ctx.dry_run = true;
      }
    }
    if (policy.empty()) policy = GetString(*body, "propagationPolicy");
    if (const Json* orphan = Find(*body, "orphanDependents");
        policy.empty() && orphan && orphan->is_boolean() && orphan->get<bool>())
      policy = "Orphan";
    if (const Json* uid = Find(*body, "preconditions.uid"); uid && uid->is_string())
      opts.precondition_uid = uid->get<std::string>();
    if (const Json* rv = Find(*body, "preconditions.resourceVersion"); rv && rv->is_string())
      opts.precondition_resource_version = rv->get<std::string>();
  }
  if (policy.empty() || policy == "Background") {
    opts.propagation = store::Propagation::kBackground;
  } else if (policy == "Foreground") {
    opts.propagation = store::Propagation::kForeground;
  } else if (policy == "Orphan") {
    opts.propagation = store::Propagation::kOrphan;
  } else {
    return BadRequest("propagationPolicy: Unsupported value: \"" + policy +
                      "\": supported values: \"Foreground\", \"Background\", "
                      "\"Orphan\"");
  }
  return opts;
}

Result<http::Response> Delete(Ctx& ctx) {
  auto opts = DeleteOptionsFrom(ctx);
  if (!opts) return tl::unexpected(opts.error());
  if (ctx.dry_run) {
    auto current = GetCurrent(ctx);
    if (!current) return tl::unexpected(current.error());
    return http::Response::Json(200, *current);
  }
  auto deleted = ctx.store.Delete(*ctx.target.res, ctx.target.ns, ctx.target.name, *opts);
  if (!deleted)
    return tl::unexpected(ObjectError(deleted.error(), ctx.target.res, ctx.target.name));
  return http::Response::Json(200, *deleted);
}

Result<http::Response> DeleteCollection(Ctx& ctx) {
  auto opts = DeleteOptionsFrom(ctx);
  if (!opts) return tl::unexpected(opts.error());
  store::ListOptions lopts;
  lopts.label_selector = ctx.req.Query("labelSelector").value_or("");
  lopts.field_selector = ctx.req.Query("fieldSelector").value_or("");
  auto listed = ctx.store.List(*ctx.target.res, ctx.target.ns, lopts);
  if (!listed) return tl::unexpected(ObjectError(listed.error(), ctx.target.res, ""));
  Json items = Json::array();
  for (const auto& item : listed->items) {
    std::string ns = GetString(item, "metadata.namespace");
    std::string name = GetString(item, "metadata.name");
    if (ctx.dry_run) {
      items.push_back(item);
      continue;
    }
    auto deleted = ctx.store.Delete(*ctx.target.res, ns, name, *opts);
    if (deleted) {
      items.push_back(std::move(*deleted));
    } else if (deleted.error().code != Code::kNotFound) {
      return tl::unexpected(ObjectError(deleted.error(), ctx.target.res, name));
    }
  }
  return http::Response::Json(
      200, {{"kind", ctx.target.res->ListKind()},
            {"apiVersion", ctx.target.res->ApiVersion()},
            {"metadata", {{"resourceVersion", std::to_string(ctx.store.CurrentRevision())}}},
            {"items", items}});
}

Result<http::Response> Dispatch(Ctx& ctx) {
  const std::string& m = ctx.req.method;
  const Target& t = ctx.target;
  if (m != "GET") {  // reads ignore dryRun, as Kubernetes does
    auto dry_run = QueryDryRun(ctx.req);
    if (!dry_run) return tl::unexpected(dry_run.error());
    ctx.dry_run = *dry_run;
  }
  if (t.name.empty()) {
    if (m == "GET") {
      auto watch = QueryBool(ctx.req, "watch");
      if (!watch) return tl::unexpected(watch.error());
      if (*watch) return ServeWatch(ctx);
      return List(ctx);
    }
    if (m == "POST") return Create(ctx);
    if (m == "DELETE") return DeleteCollection(ctx);
    return MethodNotAllowed(m);
  }
  if (t.sub == "scale") {
    if (m == "GET" || m == "PUT" || m == "PATCH") return Scale(ctx);
    return MethodNotAllowed(m);
  }
  if (m == "GET") {
    auto current = GetCurrent(ctx);
    if (!current) return tl::unexpected(current.error());
    return ObjectReply(ctx, 200, *current);
  }
  if (m == "PUT") return Update(ctx);
  if (m == "PATCH") return Patch(ctx);
  if (m == "DELETE" && t.sub.empty()) return Delete(ctx);
  return MethodNotAllowed(m);
}

}  // namespace

// Every handler above returns its error; this is the one place it becomes a Kubernetes Status.
http::Response ServeResource(Ctx& ctx) {
  Result<http::Response> r = Dispatch(ctx);
  return r ? std::move(*r) : StatusResponse(r.error());
}

}  // namespace asb::apiserver::internal
