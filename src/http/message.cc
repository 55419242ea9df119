#include "http/message.h"

#include <strings.h>

#include "base/strings.h"

namespace asb::http {

namespace {
bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}
}  // namespace

std::optional<std::string> Headers::Get(std::string_view name) const {
  for (const auto& [k, v] : items_)
    if (IEquals(k, name)) return v;
  return std::nullopt;
}

std::string Headers::GetOr(std::string_view name, std::string fallback) const {
  auto v = Get(name);
  return v ? *v : std::move(fallback);
}

void Headers::Set(std::string name, std::string value) {
  Remove(name);
  items_.emplace_back(std::move(name), std::move(value));
}

void Headers::Add(std::string name, std::string value) {
  items_.emplace_back(std::move(name), std::move(value));
}

void Headers::Remove(std::string_view name) {
  std::erase_if(items_, [&](const auto& kv) { return IEquals(kv.first, name); });
}

std::optional<std::string> Request::Query(std::string_view name) const {
  auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return it->second;
}

bool Request::ParseTarget() {
  std::string_view t = target;
  size_t q = t.find('?');
  std::string_view raw_path = t.substr(0, q);
  raw_query = q == std::string_view::npos ? "" : std::string(t.substr(q + 1));
  auto decoded = UrlDecode(raw_path);
  if (!decoded) return false;
  path = std::move(*decoded);
  query.clear();
  if (!raw_query.empty()) {
    for (const std::string& pair : Split(raw_query, '&')) {
      if (pair.empty()) continue;
      size_t eq = pair.find('=');
      auto k = UrlDecode(std::string_view(pair).substr(0, eq), true);
      auto v = eq == std::string::npos ? std::optional<std::string>("")
                                       : UrlDecode(std::string_view(pair).substr(eq + 1), true);
      if (!k || !v) return false;
      query.emplace(std::move(*k), std::move(*v));
    }
  }
  return true;
}

Response Response::Json(int status, const asb::Json& body) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", "application/json");
  r.body = DumpJson(body);
  return r;
}

Response Response::Text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

std::string_view StatusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

}  // namespace asb::http
