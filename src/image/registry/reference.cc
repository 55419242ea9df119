#include "image/registry/reference.h"

#include <arpa/inet.h>

#include "base/strings.h"

namespace asb::image::registry {
namespace {

bool PathComponentOk(std::string_view c) {
  // distribution's grammar: [a-z0-9]+ separated by '.', '_', '__' or '-'+.
  if (c.empty() || c.size() > 128) return false;
  auto alnum = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
  if (!alnum(c.front()) || !alnum(c.back())) return false;
  for (char ch : c) {
    if (!alnum(ch) && ch != '.' && ch != '_' && ch != '-') return false;
  }
  return true;
}

bool TagOk(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    char ch = t[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || (i > 0 && (ch == '.' || ch == '-'));
    if (!ok) return false;
  }
  return true;
}

bool HostOk(std::string_view h) {
  if (h.empty() || h.size() > 255) return false;
  // A host name or address starts with a letter or digit ("[" for IPv6): "..", "-x" are not.
  char first = h.front();
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') ||
        (first >= '0' && first <= '9') || first == '[')) {
    return false;
  }
  for (char ch : h) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

bool IsSha256Digest(std::string_view d) {
  if (!StartsWith(d, "sha256:") || d.size() != 7 + 64) return false;
  for (char ch : d.substr(7)) {
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  }
  return true;
}

std::string Reference::String() const {
  std::string out = registry + "/" + repository;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Result<Reference> ParseReference(std::string_view ref, std::string_view default_registry) {
  auto bad = [&](const std::string& why) {
    return MakeError(Code::kInvalidArgument,
                     "invalid image reference \"" + std::string(ref) + "\": " + why);
  };
  if (ref.empty() || ref.size() > 1024) return bad("empty or longer than 1024 characters");
  Reference r;
  std::string_view rest = ref;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    r.digest = std::string(rest.substr(at + 1));
    if (!IsSha256Digest(r.digest)) return bad("digest must be sha256:<64 lower-case hex>");
    rest = rest.substr(0, at);
  }
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, slash);
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost") {
      r.registry = std::string(first);
      rest = rest.substr(slash + 1);
    }
  }
  if (r.registry.empty()) {
    if (default_registry.empty()) {
      return bad(
          "names no registry host and this node has no default registry configured "
          "(write it as host[:port]/name:tag)");
    }
    r.registry = std::string(default_registry);
  }
  if (!HostOk(r.registry)) return bad("bad registry host \"" + r.registry + "\"");
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && rest.find('/', colon) == std::string_view::npos) {
    r.tag = std::string(rest.substr(colon + 1));
    if (!TagOk(r.tag)) return bad("bad tag \"" + r.tag + "\"");
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return bad("no repository name");
  for (const std::string& c : Split(rest, '/')) {
    if (!PathComponentOk(c)) return bad("bad repository component \"" + c + "\"");
  }
  r.repository = std::string(rest);
  if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
  return r;
}

bool IsLoopbackHost(std::string_view registry) {
  std::string host(registry);
  if (StartsWith(host, "[")) {
    size_t close = host.find(']');
    if (close == std::string::npos) return false;
    host = host.substr(1, close - 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  if (host == "localhost") return true;
  in_addr a4;
  if (::inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6;
  if (::inet_pton(AF_INET6, host.c_str(), &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

std::string DefaultPullPolicy(std::string_view image_ref) {
  if (image_ref.find('@') != std::string_view::npos) return "IfNotPresent";
  std::string_view last = image_ref.substr(
      image_ref.rfind('/') == std::string_view::npos ? 0 : image_ref.rfind('/') + 1);
  size_t colon = last.rfind(':');
  if (colon == std::string_view::npos || last.substr(colon + 1) == "latest") return "Always";
  return "IfNotPresent";
}

}  // namespace asb::image::registry
