#include "apiserver/api_server.h"

#include "apiserver/discovery.h"
#include "apiserver/internal.h"
#include "apiserver/k8s_status.h"
#include "apiserver/pod_subresources.h"
#include "apiserver/portforward.h"
#include "base/log.h"
#include "base/strings.h"

namespace asb::apiserver {

using internal::Ctx;
using internal::Target;

namespace {

http::Response NotFoundPage(const std::string& path) {
  auto details = std::make_shared<ErrorDetails>();
  details->causes.push_back({"", "UnexpectedServerResponse", "404 page not found: " + path});
  return StatusResponse(Error{Code::kNotFound, "the server could not find the requested resource",
                              0, "", std::move(details)});
}

http::Response MethodNotAllowed(const std::string& method) {
  return StatusResponse(
      Error{Code::kUnimplemented,
            "the server does not allow this method on the requested resource (" + method + ")"});
}

// Security: constant-time comparison so the token can't be recovered byte by byte from timing.
bool TokenMatches(const std::string& given, const std::string& want) {
  if (given.size() != want.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ want[i]);
  return diff == 0;
}

bool Authenticated(const http::Request& req, const std::string& token) {
  if (token.empty()) return true;
  auto auth = req.headers.Get("Authorization");
  if (!auth) return false;
  std::string_view v = Trim(*auth);
  if (v.size() < 7 || ToLower(v.substr(0, 7)) != "bearer ") return false;
  return TokenMatches(std::string(Trim(v.substr(7))), token);
}

// Parses /api/v1/... and /apis/G/V/... resource paths. nullopt: not a resource URL we serve.
std::optional<Target> ParseTarget(const std::vector<std::string>& seg) {
  std::string group, version;
  size_t i;
  if (seg.size() >= 3 && seg[0] == "api") {
    version = seg[1];
    i = 2;
  } else if (seg.size() >= 4 && seg[0] == "apis") {
    group = seg[1];
    version = seg[2];
    i = 3;
  } else {
    return std::nullopt;
  }
  std::vector<std::string> rest(seg.begin() + static_cast<long>(i), seg.end());
  Target t;
  std::string plural;
  if (rest[0] == "namespaces" && rest.size() >= 3 &&
      !(group.empty() && rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize"))) {
    t.ns = rest[1];
    plural = rest[2];
    if (rest.size() > 3) t.name = rest[3];
    if (rest.size() > 4) t.sub = rest[4];
    if (rest.size() > 5) return std::nullopt;
  } else {
    plural = rest[0];
    if (rest.size() > 1) t.name = rest[1];
    if (rest.size() > 2) t.sub = rest[2];
    if (rest.size() > 3) return std::nullopt;
  }
  t.res = api::FindByPlural(group, version, plural);
  if (!t.res) return std::nullopt;
  if (!t.res->namespaced && !t.ns.empty()) return std::nullopt;
  if (!t.sub.empty() &&
      !((t.sub == "status" && t.res->has_status) || (t.sub == "scale" && t.res->has_scale)))
    return std::nullopt;
  return t;
}

}  // namespace

ApiServer::ApiServer(store::Store& store, ApiServerOptions options)
    : versioned_(store),
      options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : RealClock::Get()) {}

http::Response ApiServer::Handle(http::Request& req) {
  const auto start = std::chrono::steady_clock::now();
  RequestInfo info;
  http::Response resp = Route(req, info);
  RecordRequest(req, info, resp.status, start);
  ASB_LOG(DEBUG, "api request", "method", req.method, "target", req.target, "status", resp.status);
  return resp;
}

http::Response ApiServer::Route(http::Request& req, RequestInfo& info) {
  const std::string& path = req.path;
  if (path == "/healthz" || path == "/livez" || path == "/readyz")
    return http::Response::Text(200, "ok");
  if (!Authenticated(req, options_.token))
    return StatusResponse(Error{Code::kUnauthenticated, "Unauthorized"});
  if (path == "/metrics") {
    if (!(req.method == "GET" || req.method == "HEAD")) return MethodNotAllowed(req.method);
    return MetricsResponse(req);
  }

  std::vector<std::string> seg;
  for (auto& s : Split(path, '/'))
    if (!s.empty()) seg.push_back(std::move(s));
  bool get = req.method == "GET" || req.method == "HEAD";
  auto json_get = [&](const std::optional<Json>& doc) {
    if (!doc) return NotFoundPage(path);
    if (!get) return MethodNotAllowed(req.method);
    return http::Response::Json(200, *doc);
  };

  if (seg.empty()) {
    Json paths = {"/api", "/api/v1", "/apis", "/healthz", "/openapi/v2", "/openapi/v3", "/version"};
    for (const auto& g : ApiGroupList()["groups"]) {
      paths.push_back("/apis/" + g["name"].get<std::string>());
      paths.push_back("/apis/" + g["preferredVersion"]["groupVersion"].get<std::string>());
    }
    return json_get(Json{{"paths", paths}});
  }
  if (seg.size() == 1 && seg[0] == "version") return json_get(VersionInfo());
  if (seg[0] == "openapi") {
    if (seg.size() == 2 && seg[1] == "v2") {
      if (!get) return MethodNotAllowed(req.method);
      // An empty protobuf Document. Not the requested proto content type: Go's
      // mime.ParseMediaType rejects its '@' and kubectl would fail (docs/api.md).
      return http::Response::Text(200, "", "application/octet-stream");
    }
    if (seg.size() == 2 && seg[1] == "v3") return json_get(OpenApiV3Index());
    if (seg.size() >= 3 && seg[1] == "v3") {
      std::string gv;
      for (size_t i = 2; i < seg.size(); ++i) gv += (i > 2 ? "/" : "") + seg[i];
      return json_get(OpenApiV3Document(gv));
    }
    return NotFoundPage(path);
  }
  if (seg.size() == 7 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "namespaces" &&
      seg[4] == "pods") {
    // Literals only: label values must not point into this request's memory.
    for (std::string_view sub : {"exec", "attach", "log", "portforward"})
      if (seg[6] == sub) {
        info.resource = "pods";
        info.subresource = sub;
        info.verb = sub == "log" ? "GET" : "CONNECT";
      }
    if (seg[6] == "exec")
      return internal::ServePodExec(versioned_, options_.pod_streams, req, seg[3], seg[5]);
    if (seg[6] == "attach")
      return internal::ServePodAttach(versioned_, options_.pod_streams, shutting_down_, req, seg[3],
                                      seg[5]);
    if (seg[6] == "log")
      return internal::ServePodLog(versioned_, options_.pod_streams, shutting_down_, req, seg[3],
                                   seg[5]);
    if (seg[6] == "portforward")
      return internal::ServePortForward(versioned_, options_, req, seg[3], seg[5]);
  }
  if (seg[0] == "api") {
    if (seg.size() == 1) return json_get(ApiVersions(options_.advertise_address));
    if (seg.size() == 2) return json_get(ApiResourceList("", seg[1]));
  }
  if (seg[0] == "apis") {
    if (seg.size() == 1) return json_get(ApiGroupList());
    if (seg.size() == 2) return json_get(ApiGroup(seg[1]));
    if (seg.size() == 3) return json_get(ApiResourceList(seg[1], seg[2]));
  }
  std::optional<Target> target = ParseTarget(seg);
  if (!target) return NotFoundPage(path);
  info.resource = target->res->plural;
  info.subresource = target->sub == "status" ? "status" : target->sub == "scale" ? "scale" : "";
  auto watch = internal::QueryBool(req, "watch");
  info.verb = KubeVerb(req, !target->name.empty(), watch && *watch);
  Ctx ctx{versioned_, options_, clock_, shutting_down_, req, *target};
  return internal::ServeResource(ctx);
}

}  // namespace asb::apiserver
