#include "agent/handlers.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "agent/multipart.h"
#include "agent/remote_command.h"
#include "base/log.h"
#include "base/strings.h"
#include "http/errors.h"

namespace asb::agent {

namespace {

using http::Request;
using http::Response;

// FastAPI-shaped validation error: 422 {"detail": [{"type","loc","msg"}]} (http/errors.h).
Response ValidationError(std::string_view type, const Json& loc, std::string_view msg) {
  std::string field;
  for (const Json& part : loc) field += (field.empty() ? "" : ".") + part.get<std::string>();
  auto details = std::make_shared<ErrorDetails>();
  details->causes.push_back({std::move(field), std::string(type), std::string(msg)});
  return http::DetailResponse(
      Error{Code::kInvalidArgument, std::string(msg), 0, "Invalid", std::move(details)});
}

Response Message(int status, std::string message) {
  return Response::Json(status, {{"message", std::move(message)}});
}

Response HandleHealth(const AgentServices&, const Request&, std::string_view) {
  return Response::Json(200, {{"status", "ok"}, {"message", "Sandbox Runtime is active."}});
}

// X-Sandbox-Timeout (seconds) less a margin of a tenth, at most 1 s: the command's limit when the
// body gives none. nullopt when absent or not a positive number.
std::optional<std::chrono::milliseconds> HeaderTimeout(const Request& req) {
  auto h = req.headers.Get("X-Sandbox-Timeout");
  if (!h) return std::nullopt;
  std::string text(Trim(*h));
  char* end = nullptr;
  double secs = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(secs > 0) || secs > 1e7)
    return std::nullopt;
  double margin = std::min(1.0, secs / 10);
  return std::chrono::milliseconds(static_cast<int64_t>((secs - margin) * 1000.0 + 0.5));
}

Response HandleExecute(const AgentServices& s, const Request& req, std::string_view) {
  auto body = ParseJson(req.body);
  if (!body) {
    return ValidationError("json_invalid", {"body"}, "JSON decode error: " + body.error().message);
  }
  if (!body->is_object()) {
    return ValidationError("model_attributes_type", {"body"},
                           "Input should be a valid dictionary or object to extract fields from");
  }
  auto cmd = body->find("command");
  if (cmd == body->end()) return ValidationError("missing", {"body", "command"}, "Field required");
  if (!cmd->is_string()) {
    return ValidationError("string_type", {"body", "command"}, "Input should be a valid string");
  }
  // "timeout" (seconds) is not in the upstream model, but clients send it; honour it when it
  // is a positive number and ignore null. Without it, the caller's X-Sandbox-Timeout (what
  // upstream's SDK sends; the router passes it on) bounds the command, a little shorter so this
  // answer reaches the caller before the router gives up. Else the agent's default.
  std::optional<std::chrono::milliseconds> timeout;
  if (auto t = body->find("timeout"); t != body->end() && !t->is_null()) {
    if (!t->is_number() || t->get<double>() <= 0 || t->get<double>() > 1e7) {
      return ValidationError("greater_than", {"body", "timeout"},
                             "timeout must be a positive number of seconds");
    }
    timeout = std::chrono::milliseconds(static_cast<int64_t>(t->get<double>() * 1000.0 + 0.5));
  } else if (auto ms = HeaderTimeout(req)) {
    timeout = *ms;
  }
  ExecResult r = s.exec->RunCommand(cmd->get_ref<const std::string&>(), timeout);
  Json out = {{"stdout", r.stdout_data}, {"stderr", r.stderr_data}, {"exit_code", r.exit_code}};
  // Extra fields only when they say something: upstream's clients read the three above.
  if (r.stdout_truncated) out["stdout_truncated"] = true;
  if (r.stderr_truncated) out["stderr_truncated"] = true;
  if (r.timed_out) out["timed_out"] = true;
  return Response::Json(200, out);
}

Response HandleUpload(const AgentServices& s, const Request& req, std::string_view) {
  auto boundary = MultipartBoundary(req.headers.GetOr("Content-Type", ""));
  if (!boundary) return ValidationError("missing", {"body", "file"}, "Field required");
  auto parts = ParseMultipart(req.body, *boundary);
  if (!parts) {
    return http::DetailResponse(Error{
        Code::kInvalidArgument, "There was an error parsing the body: " + parts.error().message});
  }
  const MultipartPart* file = nullptr;
  for (const MultipartPart& p : *parts) {
    if (p.name == "file" && p.filename) {
      file = &p;
      break;
    }
  }
  if (file == nullptr) return ValidationError("missing", {"body", "file"}, "Field required");
  const std::string& name = *file->filename;
  Status written = s.files->WriteFile(name, file->data);
  if (!written) {
    if (IsAccessDenied(written.error())) return Message(403, "Access denied");
    return Message(500, "File upload failed: " + written.error().message);
  }
  return Message(200, "File '" + name + "' uploaded successfully.");
}

// Content-Disposition like Starlette's FileResponse: plain filename when it is printable
// ASCII without quotes, RFC 5987 filename* otherwise.
std::string AttachmentHeader(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  bool plain = !base.empty();
  for (unsigned char c : base) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') plain = false;
  }
  if (plain) return "attachment; filename=\"" + std::string(base) + "\"";
  return "attachment; filename*=utf-8''" + UrlEncode(base);
}

Response HandleDownload(const AgentServices& s, const Request&, std::string_view path) {
  auto opened = s.files->OpenForRead(path);
  if (!opened) {
    const Error& e = opened.error();
    if (IsAccessDenied(e)) return Message(403, "Access denied");
    if (e.code == Code::kNotFound || e.code == Code::kInvalidArgument) {
      return Message(404, "File not found");
    }
    return Message(500, "File download failed: " + e.message);
  }
  Response r;
  r.status = 200;
  r.headers.Set("Content-Type", "application/octet-stream");
  r.headers.Set("Content-Disposition", AttachmentHeader(path));
  // Streamed from the file in bounded pieces (a 2 GiB file never sits in the agent's memory).
  // The length is the size at open time: a file that shrinks meanwhile ends the connection
  // early (the client sees a short body), one that grows is cut at that size.
  const uint64_t size = opened->size;
  r.stream_length = size;
  auto fd = std::make_shared<UniqueFd>(std::move(opened->fd));
  r.stream = [fd, size](http::ResponseStream& out) {
    std::vector<char> buf(256 * 1024);
    uint64_t sent = 0;
    while (sent < size) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - sent));
      ssize_t n = ::read(fd->get(), buf.data(), want);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      if (!out.Write(std::string_view(buf.data(), static_cast<size_t>(n)))) return;
      sent += static_cast<uint64_t>(n);
    }
  };
  return r;
}

Response HandleList(const AgentServices& s, const Request&, std::string_view path) {
  auto entries = s.files->List(path);
  if (!entries) {
    const Error& e = entries.error();
    if (IsAccessDenied(e)) return Message(403, "Access denied");
    if (e.code == Code::kNotFound || e.code == Code::kInvalidArgument) {
      return Message(404, "Path is not a directory");
    }
    return Message(500, "Failed to list directory: " + e.message);
  }
  Json out = Json::array();
  for (const DirEntry& d : *entries) {
    out.push_back({{"name", d.name},
                   {"size", d.size},
                   {"type", d.is_dir ? "directory" : "file"},
                   {"mod_time", d.mod_time}});
  }
  return Response::Json(200, out);
}

Response HandleExists(const AgentServices& s, const Request&, std::string_view path) {
  auto exists = s.files->Exists(path);
  if (!exists) {
    if (IsAccessDenied(exists.error())) return Message(403, "Access denied");
    return Message(500, "Failed to check path: " + exists.error().message);
  }
  return Response::Json(200, {{"path", path}, {"exists", *exists}});
}

struct Route {
  std::string_view method;
  std::string_view path;  // exact path, or a prefix ending in '/' when `prefix`
  bool prefix;
  Response (*handle)(const AgentServices&, const Request&, std::string_view rest);
};

// The agent's whole HTTP surface, in one place.
constexpr Route kRoutes[] = {
    {"GET", "/", false, HandleHealth},
    {"POST", "/execute", false, HandleExecute},
    {"POST", "/upload", false, HandleUpload},
    {"GET", "/download/", true, HandleDownload},
    {"GET", "/list/", true, HandleList},
    {"GET", "/exists/", true, HandleExists},
    {"GET", kRemoteCommandPath, false, HandleRemoteCommand},
};

}  // namespace

http::Response HandleAgentRequest(const AgentServices& services, const http::Request& req) {
  std::string allowed;  // methods of the routes whose path matched, for 405's Allow header
  for (const Route& route : kRoutes) {
    std::string_view rest;
    if (route.prefix) {
      if (!StartsWith(req.path, route.path)) continue;
      rest = std::string_view(req.path).substr(route.path.size());
    } else if (req.path != route.path) {
      continue;
    }
    if (req.method != route.method) {
      allowed += (allowed.empty() ? "" : ", ") + std::string(route.method);
      continue;
    }
    return route.handle(services, req, rest);
  }
  if (!allowed.empty()) {
    Response r = http::DetailResponse(Error{Code::kUnimplemented, "Method Not Allowed"});
    r.headers.Set("Allow", allowed);
    return r;
  }
  return http::DetailResponse(Error{Code::kNotFound, "Not Found"});
}

http::Handler MakeAgentHandler(AgentServices services) {
  return [services](http::Request& req) {
    auto start = std::chrono::steady_clock::now();
    http::Response resp = HandleAgentRequest(services, req);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ASB_LOG(INFO, "request", "method", req.method, "path", req.path, "status", resp.status, "ms",
            ms);
    return resp;
  };
}

}  // namespace asb::agent
