#include "store/object_meta.h"

#include "api/validation.h"
#include "base/strings.h"

namespace asb::store::internal {

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string QualifiedKind(const api::ResourceInfo& res) {
  return res.group.empty() ? res.kind : res.kind + "." + res.group;
}

std::string NotFoundMessage(const api::ResourceInfo& res, const std::string& name) {
  return res.GroupResource() + " " + Quote(name) + " not found";
}

std::string NewUuid() {
  std::string h = RandomHex(16);
  h[12] = '4';
  h[16] = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

std::string RandomSuffix() {
  // Kubernetes' generateName alphabet (no vowels, no confusable characters).
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string hex = RandomHex(5);
  std::string out;
  for (size_t i = 0; i < 5; ++i) {
    int byte = std::stoi(hex.substr(i * 2, 2), nullptr, 16);
    out += kAlphabet[static_cast<size_t>(byte) % kAlphabet.size()];
  }
  return out;
}

Status ValidateName(const api::ResourceInfo& res, const std::string& name) {
  const bool label = IsNamespaceResource(res);
  const size_t max = label ? 63 : 253;
  if (label ? api::IsDns1123Label(name) : api::IsDns1123Subdomain(name)) return OkStatus();
  std::string what = label ? "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                             "characters or '-', and must start and end with an alphanumeric "
                             "character"
                           : "a lowercase RFC 1123 subdomain must consist of lower case "
                             "alphanumeric characters, '-' or '.', and must start and end with "
                             "an alphanumeric character";
  if (name.size() > max) what = "must be no more than " + std::to_string(max) + " characters";
  return MakeError(Code::kInvalidArgument,
                   QualifiedKind(res) + " " + Quote(name) +
                       " is invalid: metadata.name: Invalid value: " + Quote(name) + ": " + what);
}

Status CheckObject(const api::ResourceInfo& res, const Json& obj) {
  auto bad = [&](const std::string& why) {
    return MakeError(Code::kInvalidArgument, QualifiedKind(res) + " is invalid: " + why);
  };
  if (!obj.is_object()) return bad("the object must be a JSON object");
  auto m = obj.find("metadata");
  if (m == obj.end() || m->is_null()) return OkStatus();
  if (!m->is_object()) return bad("metadata must be an object");
  for (const char* f : {"name", "namespace", "generateName", "resourceVersion", "uid",
                        "creationTimestamp", "deletionTimestamp"}) {
    auto it = m->find(f);
    if (it != m->end() && !it->is_string() && !it->is_null())
      return bad(std::string("metadata.") + f + " must be a string");
  }
  for (const char* f : {"labels", "annotations"}) {
    auto it = m->find(f);
    if (it == m->end() || it->is_null()) continue;
    if (!it->is_object()) return bad(std::string("metadata.") + f + " must be an object");
    for (auto& [k, v] : it->items()) {
      if (!v.is_string()) return bad(std::string("metadata.") + f + "[" + k + "] must be a string");
      if (std::string_view(f) != "labels") continue;
      if (!api::IsQualifiedName(k))
        return bad("metadata.labels: Invalid value: " + Quote(k) +
                   ": name part must consist of alphanumeric characters, '-', '_' or '.', and "
                   "must start and end with an alphanumeric character (an optional prefix must "
                   "be a DNS subdomain)");
      if (!api::IsLabelValue(v.get_ref<const std::string&>()))
        return bad("metadata.labels: Invalid value: " + Quote(v.get<std::string>()) +
                   ": a valid label must be an empty string or consist of alphanumeric "
                   "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                   "character (at most 63 characters)");
    }
  }
  if (auto it = m->find("finalizers"); it != m->end() && !it->is_null()) {
    if (!it->is_array()) return bad("metadata.finalizers must be a list");
    for (const Json& f : *it)
      if (!f.is_string() || f.get_ref<const std::string&>().empty())
        return bad("metadata.finalizers entries must be non-empty strings");
  }
  if (auto it = m->find("ownerReferences"); it != m->end() && !it->is_null()) {
    if (!it->is_array()) return bad("metadata.ownerReferences must be a list");
    for (const Json& r : *it) {
      if (!r.is_object()) return bad("metadata.ownerReferences entries must be objects");
      auto uid = r.find("uid");
      if (uid == r.end() || !uid->is_string() || uid->get_ref<const std::string&>().empty())
        return bad("metadata.ownerReferences.uid: Required value");
    }
  }
  return OkStatus();
}

bool SpecEqual(const Json& a, const Json& b) {
  size_t na = 0, nb = 0;
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() == "metadata" || it.key() == "status") continue;
    ++na;
    auto other = b.find(it.key());
    if (other == b.end() || *other != it.value()) return false;
  }
  for (auto it = b.begin(); it != b.end(); ++it)
    if (it.key() != "metadata" && it.key() != "status") ++nb;
  return na == nb;
}

std::string EncodeContinue(const std::string& ns, const std::string& name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string raw = ns + '\x1f' + name;
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

Result<std::pair<std::string, std::string>> DecodeContinue(const std::string& token) {
  auto bad = [] { return MakeError(Code::kInvalidArgument, "invalid continue token"); };
  if (token.size() % 2 != 0) return bad();
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string raw;
  for (size_t i = 0; i < token.size(); i += 2) {
    int hi = hexval(token[i]), lo = hexval(token[i + 1]);
    if (hi < 0 || lo < 0) return bad();
    raw += static_cast<char>(hi * 16 + lo);
  }
  size_t sep = raw.find('\x1f');
  if (sep == std::string::npos) return bad();
  return std::make_pair(raw.substr(0, sep), raw.substr(sep + 1));
}

}  // namespace asb::store::internal
