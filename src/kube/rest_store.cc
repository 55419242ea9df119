#include "kube/rest_store.h"

#include "base/strings.h"
#include "client/api_client.h"

namespace asb::kube {

namespace {

std::string Query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string q;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    q += q.empty() ? "?" : "&";
    q += k + "=" + UrlEncode(v);
  }
  return q;
}

const char* PropagationName(store::Propagation p) {
  switch (p) {
    case store::Propagation::kForeground:
      return "Foreground";
    case store::Propagation::kOrphan:
      return "Orphan";
    case store::Propagation::kBackground:
      break;
  }
  return "Background";
}

}  // namespace

Result<std::unique_ptr<RestStore>> OpenRestStore(const RestConfig& config,
                                                 TransportOptions transport,
                                                 RestStoreOptions options) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<Transport> t,
                       Transport::Create(config, std::move(transport)));
  return std::make_unique<RestStore>(std::move(t), std::move(options));
}

std::string RestStore::Path(const api::ResourceInfo& res, const std::string& ns,
                            const std::string& name, const std::string& sub) {
  return client::ApiClient::Path(res, ns, name, sub);
}

Result<Json> RestStore::Call(const std::string& method, const std::string& target,
                             const std::string& body) {
  ASB_ASSIGN_OR_RETURN(http::ClientResponse resp, transport_->Do(method, target, body));
  if (resp.status < 200 || resp.status >= 300)
    return tl::unexpected(client::ErrorFromResponse(resp.status, resp.body));
  if (resp.body.empty()) return Json::object();
  auto parsed = ParseJson(resp.body);
  if (!parsed)
    return MakeError(Code::kInternal, method + " " + target +
                                          ": the server answered with JSON "
                                          "that does not parse: " +
                                          parsed.error().message);
  return parsed;
}

Result<store::Object> RestStore::LiveGet(const api::ResourceInfo& res, const std::string& ns,
                                         const std::string& name) {
  return Call("GET", Path(res, ns, name));
}

Result<store::ListResult> RestStore::ListPage(const api::ResourceInfo& res, const std::string& ns,
                                              const store::ListOptions& options) {
  std::string target =
      Path(res, ns) + Query({{"labelSelector", options.label_selector},
                             {"fieldSelector", options.field_selector},
                             {"limit", options.limit > 0 ? std::to_string(options.limit) : ""},
                             {"continue", options.continue_token}});
  ASB_ASSIGN_OR_RETURN(Json list, Call("GET", target));
  store::ListResult out;
  if (auto rv = ParseInt(GetString(list, "metadata.resourceVersion"))) out.resource_version = *rv;
  out.continue_token = GetString(list, "metadata.continue");
  if (Json* items = list.contains("items") ? &list["items"] : nullptr; items && items->is_array()) {
    out.items.reserve(items->size());
    for (Json& item : *items) {
      // List items carry no apiVersion/kind on the wire; the store's objects always do.
      item["apiVersion"] = res.ApiVersion();
      item["kind"] = res.kind;
      out.items.push_back(std::move(item));
    }
  }
  return out;
}

Result<store::ListResult> RestStore::LiveList(const api::ResourceInfo& res, const std::string& ns,
                                              const store::ListOptions& options) {
  if (options.limit > 0) return ListPage(res, ns, options);
  // Every page, as one list at the first page's revision (the server serves later pages from
  // the same snapshot, as kube-apiserver's continue tokens do).
  store::ListOptions page = options;
  page.limit = options_.list_page_size;
  ASB_ASSIGN_OR_RETURN(store::ListResult all, ListPage(res, ns, page));
  while (!all.continue_token.empty()) {
    page.continue_token = all.continue_token;
    ASB_ASSIGN_OR_RETURN(store::ListResult next, ListPage(res, ns, page));
    for (auto& item : next.items) all.items.push_back(std::move(item));
    all.continue_token = next.continue_token;
  }
  return all;
}

Result<store::Object> RestStore::Create(const api::ResourceInfo& res, store::Object obj,
                                        const store::CreateOptions& options) {
  std::string ns = GetString(obj, "metadata.namespace");
  if (res.namespaced && ns.empty())
    return MakeError(Code::kInvalidArgument, "metadata.namespace: Required value");
  obj["apiVersion"] = res.ApiVersion();
  obj["kind"] = res.kind;
  std::optional<Json> status;
  if (options.keep_status && res.has_status && obj.contains("status") && obj["status"].is_object())
    status = obj["status"];
  const std::string name = GetString(obj, "metadata.name");
  Result<store::Object> posted = Call(
      "POST", Path(res, ns) + Query({{"fieldManager", options_.field_manager}}), DumpJson(obj));
  NoteWrite(res, ns, name, posted);
  ASB_ASSIGN_OR_RETURN(store::Object created, std::move(posted));
  if (!status) return created;
  // The API drops .status on create; write it at the revision just created, so nothing that
  // changed the object since is overwritten (the Sandbox's reconciler fills it otherwise).
  created["status"] = *status;
  return Update(res, std::move(created), {.status_only = true});
}

Result<store::Object> RestStore::Update(const api::ResourceInfo& res, store::Object obj,
                                        const store::UpdateOptions& options) {
  std::string ns = GetString(obj, "metadata.namespace");
  std::string name = GetString(obj, "metadata.name");
  if (name.empty()) return MakeError(Code::kInvalidArgument, "metadata.name: Required value");
  obj["apiVersion"] = res.ApiVersion();
  obj["kind"] = res.kind;
  std::string sub = options.status_only && res.has_status ? "status" : "";
  std::string target = Path(res, ns, name, sub) + Query({{"fieldManager", options_.field_manager}});
  bool unconditional = GetString(obj, "metadata.resourceVersion").empty();
  auto put = Call("PUT", target, DumpJson(obj));
  // An update without a resourceVersion is unconditional: asbd's API server (and built-in kinds)
  // take it as such; kube-apiserver refuses it for custom resources ("must be specified for an
  // update"). Then: the current revision, and retry on a conflict, which is what unconditional
  // means (the last writer wins).
  for (int attempt = 0; unconditional && !put && attempt < 5; ++attempt) {
    const Error& e = put.error();
    bool needs_rv =
        e.code == Code::kInvalidArgument && e.message.find("resourceVersion") != std::string::npos;
    if (!needs_rv && !(attempt > 0 && e.code == Code::kAborted)) break;
    ASB_ASSIGN_OR_RETURN(Json current, LiveGet(res, ns, name));  // a cached one may be stale
    obj["metadata"]["resourceVersion"] = GetString(current, "metadata.resourceVersion");
    put = Call("PUT", target, DumpJson(obj));
  }
  NoteWrite(res, ns, name, put);
  return put;
}

Result<store::Object> RestStore::Delete(const api::ResourceInfo& res, const std::string& ns,
                                        const std::string& name,
                                        const store::DeleteOptions& options) {
  Json body = {{"kind", "DeleteOptions"},
               {"apiVersion", "v1"},
               {"propagationPolicy", PropagationName(options.propagation)}};
  if (options.precondition_uid) body["preconditions"]["uid"] = *options.precondition_uid;
  if (options.precondition_resource_version)
    body["preconditions"]["resourceVersion"] = *options.precondition_resource_version;
  Result<Json> deleted = Call("DELETE", Path(res, ns, name), DumpJson(body));
  NoteWrite(res, ns, name, deleted);
  ASB_ASSIGN_OR_RETURN(Json out, std::move(deleted));
  if (GetString(out, "kind") != "Status") return out;
  // Many kinds answer a finished delete with a Status, not the object: give back what it names.
  Json obj = {{"apiVersion", res.ApiVersion()},
              {"kind", res.kind},
              {"metadata", {{"name", name}, {"uid", GetString(out, "details.uid")}}}};
  if (res.namespaced) obj["metadata"]["namespace"] = ns;
  return obj;
}

int64_t RestStore::CurrentRevision() {
  store::ListOptions one;
  one.limit = 1;
  auto listed = ListPage(api::NamespaceResource(), "", one);  // always the server's
  return listed ? listed->resource_version : 0;
}

}  // namespace asb::kube
