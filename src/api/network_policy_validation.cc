#include "api/network_policy_validation.h"

#include <charconv>
#include <string>
#include <string_view>

#include "net/network_policy.h"

namespace asb::api {
namespace {

// The value at a parser path such as "egress[0].to[1].ipBlock.cidr" below `root`, or null.
const Json* At(const Json& root, std::string_view path) {
  const Json* cur = &root;
  while (!path.empty() && cur) {
    if (path.front() == '.') path.remove_prefix(1);
    if (path.front() == '[') {
      size_t end = path.find(']');
      size_t index = 0;
      if (end == std::string_view::npos ||
          std::from_chars(path.data() + 1, path.data() + end, index).ec != std::errc() ||
          !cur->is_array() || index >= cur->size())
        return nullptr;
      cur = &(*cur)[index];
      path.remove_prefix(end + 1);
      continue;
    }
    size_t end = path.find_first_of(".[");
    std::string key(path.substr(0, end));
    cur = cur->is_object() && cur->contains(key) ? &(*cur)[key] : nullptr;
    path.remove_prefix(end == std::string_view::npos ? path.size() : end);
  }
  return cur;
}

}  // namespace

void ValidateNetworkPolicy(const Json& policy, FieldErrors* out) {
  if (policy.is_null()) return;
  auto parsed = net::ParseNetworkPolicy(policy);
  if (parsed) return;
  // The parser says "networkPolicy.<path>: <why>".
  const std::string& message = parsed.error().message;
  constexpr std::string_view kPrefix = "networkPolicy";
  size_t colon = message.find(": ");
  std::string path = colon == std::string::npos ? "" : message.substr(0, colon);
  std::string why = colon == std::string::npos ? message : message.substr(colon + 2);
  std::string_view sub = path;
  if (sub.rfind(kPrefix, 0) == 0) sub.remove_prefix(kPrefix.size());
  const Json* value = At(policy, sub);
  FieldError e;
  e.field = "spec.networkPolicy" + std::string(sub);
  e.detail = why;
  if (value == nullptr) {
    e.type = FieldErrorType::kRequired;
  } else {
    e.type = FieldErrorType::kInvalid;
    // Scalars as they are; a list or object by its kind, not its whole body.
    e.value = value->is_structured() ? Json(value->is_array() ? "<list>" : "<object>") : *value;
  }
  out->push_back(std::move(e));
}

}  // namespace asb::api
