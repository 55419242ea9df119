#include "client/api_client.h"

#include "base/strings.h"
#include "http/errors.h"

namespace asb::client {

Error ErrorFromResponse(int status, const std::string& body) {
  auto parsed = ParseJson(body);
  std::string message = parsed ? GetString(*parsed, "message") : "";
  std::string reason = parsed ? GetString(*parsed, "reason") : "";
  if (message.empty()) message = "HTTP " + std::to_string(status) + ": " + body;
  return http::ErrorFromHttp(status, std::move(reason), std::move(message));
}

Result<std::unique_ptr<ApiClient>> ApiClient::Create(const Kubeconfig& kc) {
  ASB_ASSIGN_OR_RETURN(HostPort addr, ParseHttpUrl(kc.server));
  return std::unique_ptr<ApiClient>(new ApiClient(kc, addr));
}

std::string ApiClient::Path(const api::ResourceInfo& res, const std::string& ns,
                            const std::string& name, const std::string& sub) {
  std::string p = res.group.empty() ? "/api/" + res.version : "/apis/" + res.ApiVersion();
  if (res.namespaced && !ns.empty()) p += "/namespaces/" + UrlEncode(ns);
  p += "/" + res.plural;
  if (!name.empty()) p += "/" + UrlEncode(name);
  if (!sub.empty()) p += "/" + sub;
  return p;
}

Result<Json> ApiClient::Request(const std::string& method, const std::string& target,
                                const std::string& body, const std::string& content_type) {
  http::Request req;
  req.method = method;
  req.target = target;
  req.body = body;
  if (!body.empty()) req.headers.Set("Content-Type", content_type);
  req.headers.Set("Accept", "application/json");
  if (!kc_.token.empty()) req.headers.Set("Authorization", "Bearer " + kc_.token);
  Result<http::ClientResponse> resp = MakeError(Code::kUnavailable, "not sent");
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!conn_) {
      auto c = http::Client::Connect(addr_.host, addr_.port);
      if (!c) {
        Error e = c.error();
        e.message = "cannot reach the API server at " + kc_.server + ": " + e.message;
        return tl::unexpected(e);
      }
      conn_ = std::make_unique<http::Client>(std::move(*c));
    }
    resp = conn_->Do(req);
    if (resp) break;
    conn_.reset();  // a kept-alive connection the server closed: dial again once
  }
  if (!resp) return tl::unexpected(resp.error());
  if (resp->status < 200 || resp->status >= 300)
    return tl::unexpected(ErrorFromResponse(resp->status, resp->body));
  if (resp->body.empty()) return Json::object();
  return ParseJson(resp->body);
}

Result<Json> ApiClient::Get(const api::ResourceInfo& res, const std::string& ns,
                            const std::string& name) {
  return Request("GET", Path(res, ns, name));
}

Result<Json> ApiClient::List(const api::ResourceInfo& res, const std::string& ns,
                             const std::string& label_selector) {
  std::string target = Path(res, ns);
  if (!label_selector.empty()) target += "?labelSelector=" + UrlEncode(label_selector);
  return Request("GET", target);
}

Result<Json> ApiClient::Create(const api::ResourceInfo& res, const std::string& ns,
                               const Json& obj) {
  return Request("POST", Path(res, ns) + "?fieldValidation=Strict", DumpJson(obj));
}

Result<Json> ApiClient::Patch(const api::ResourceInfo& res, const std::string& ns,
                              const std::string& name, const Json& patch,
                              const std::string& content_type) {
  return Request("PATCH", Path(res, ns, name) + "?fieldValidation=Strict", DumpJson(patch),
                 content_type);
}

Result<Json> ApiClient::Delete(const api::ResourceInfo& res, const std::string& ns,
                               const std::string& name, const std::string& propagation) {
  return Request(
      "DELETE", Path(res, ns, name),
      DumpJson(Json{
          {"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", propagation}}));
}

}  // namespace asb::client
