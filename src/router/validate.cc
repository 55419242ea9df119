#include "router/validate.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "base/k8s_names.h"
#include "base/strings.h"

namespace asb::router {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Comma-separated tokens of a header value, trimmed and lowercased ("keep-alive, Upgrade").
std::vector<std::string> Tokens(std::string_view value) {
  std::vector<std::string> out;
  for (const std::string& part : Split(value, ',')) {
    std::string_view t = Trim(part);
    if (!t.empty()) out.push_back(ToLower(t));
  }
  return out;
}

bool HasToken(const HeaderList& headers, std::string_view name, std::string_view token) {
  for (const auto& [k, v] : headers) {
    if (!EqualsIgnoreCase(k, name)) continue;
    for (const std::string& t : Tokens(v))
      if (t == token) return true;
  }
  return false;
}

// RFC 7230 6.1 hop-by-hop headers, plus the legacy Proxy-Connection.
const std::set<std::string>& HopByHop() {
  static const std::set<std::string> kHeaders = {
      "connection",          "keep-alive", "proxy-connection", "proxy-authenticate",
      "proxy-authorization", "te",         "trailer",          "upgrade"};
  return kHeaders;
}

// Names listed in Connection headers are hop-by-hop for this message too.
std::set<std::string> ConnectionListed(const HeaderList& headers) {
  std::set<std::string> out;
  for (const auto& [k, v] : headers)
    if (EqualsIgnoreCase(k, "connection"))
      for (std::string& t : Tokens(v)) out.insert(std::move(t));
  return out;
}

}  // namespace

const std::string* FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers)
    if (EqualsIgnoreCase(k, name)) return &v;
  return nullptr;
}

Result<RouteTarget> ResolveTarget(const HeaderList& headers) {
  RouteTarget t;
  const std::string* id = FindHeader(headers, "X-Sandbox-ID");
  if (id == nullptr || Trim(*id).empty())
    return MakeError(Code::kInvalidArgument, "X-Sandbox-ID header is required.");
  t.sandbox_id = std::string(Trim(*id));
  if (!IsDns1123Label(t.sandbox_id))
    return MakeError(Code::kInvalidArgument, "Invalid sandbox ID format.");
  if (const std::string* ns = FindHeader(headers, "X-Sandbox-Namespace")) {
    t.ns = std::string(Trim(*ns));
    if (!IsDns1123Label(t.ns))
      return MakeError(Code::kInvalidArgument, "Invalid namespace format.");
  }
  if (const std::string* port = FindHeader(headers, "X-Sandbox-Port")) {
    std::optional<int64_t> p = ParseInt(Trim(*port));
    if (!p || *p < 1 || *p > 65535)
      return MakeError(Code::kInvalidArgument, "Invalid port format.");
    t.port = static_cast<uint16_t>(*p);
  }
  return t;
}

bool Authorized(const HeaderList& headers, std::string_view token) {
  if (token.empty()) return true;
  const std::string* auth = FindHeader(headers, "Authorization");
  if (auth == nullptr) return false;
  std::string_view v = Trim(*auth);
  constexpr std::string_view kScheme = "bearer ";
  if (v.size() <= kScheme.size() || !EqualsIgnoreCase(v.substr(0, kScheme.size()), kScheme))
    return false;
  std::string_view given = Trim(v.substr(kScheme.size()));
  // Security: compare every byte regardless of where the first mismatch is, so response timing
  // does not reveal how much of a guessed token was right.
  unsigned char diff = given.size() == token.size() ? 0 : 1;
  for (size_t i = 0; i < token.size(); ++i)
    diff |= static_cast<unsigned char>(token[i]) ^
            static_cast<unsigned char>(i < given.size() ? given[i] : 0);
  return diff == 0;
}

bool IsUpgradeRequest(const HeaderList& headers) {
  return FindHeader(headers, "Upgrade") != nullptr && HasToken(headers, "Connection", "upgrade");
}

HeaderList ForwardRequestHeaders(const HeaderList& in, const ForwardInfo& info) {
  std::set<std::string> listed = ConnectionListed(in);
  HeaderList out;
  std::string original_host;
  bool has_request_id = false;
  for (const auto& [k, v] : in) {
    std::string name = ToLower(k);
    if (name == "host") {
      original_host = v;
      continue;
    }
    if (name == "upgrade" && info.upgrade) {
      out.emplace_back(k, v);
      continue;
    }
    if (HopByHop().count(name) || listed.count(name)) continue;
    // Security: strip the caller's credentials so a sandbox can't replay the caller's token
    // against the router or the API server.
    if (name == "authorization") continue;
    // The router answers "100 Continue" itself before it relays the body.
    if (name == "expect") continue;
    if (name == "origin" && info.upgrade) continue;
    // Security: the client may not forge its address; the router is the edge, so the
    // X-Forwarded-* headers are ours alone.
    if (name == "x-forwarded-for" || name == "x-forwarded-proto" || name == "x-forwarded-host" ||
        name == "forwarded")
      continue;
    if (name == "x-request-id") has_request_id = true;
    out.emplace_back(k, v);
  }
  out.emplace_back("Host", info.host_header);
  if (info.upgrade) out.emplace_back("Connection", "Upgrade");
  if (!info.client_ip.empty()) out.emplace_back("X-Forwarded-For", info.client_ip);
  out.emplace_back("X-Forwarded-Proto", "http");
  if (!original_host.empty()) out.emplace_back("X-Forwarded-Host", original_host);
  if (!has_request_id && !info.request_id.empty())
    out.emplace_back("X-Request-Id", info.request_id);
  return out;
}

HeaderList ForwardResponseHeaders(const HeaderList& in, bool upgrade_accepted) {
  std::set<std::string> listed = ConnectionListed(in);
  HeaderList out;
  for (const auto& [k, v] : in) {
    std::string name = ToLower(k);
    if (upgrade_accepted && (name == "connection" || name == "upgrade")) {
      out.emplace_back(k, v);
      continue;
    }
    if (HopByHop().count(name) || listed.count(name)) continue;
    out.emplace_back(k, v);
  }
  return out;
}

}  // namespace asb::router
