#include "api/secret.h"

#include <cctype>
#include <utility>
#include <vector>

#include "base/base64.h"

namespace asb::api {
namespace {

constexpr char kRedacted[] = "<secret contents redacted>";

// validation.IsConfigMapKey's rules and messages.
std::vector<std::string> ConfigKeyErrors(const std::string& key) {
  std::vector<std::string> errs;
  if (key.size() > 253) errs.push_back("must be no more than 253 characters");
  bool ok = !key.empty();
  for (char c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      ok = false;
  if (!ok)
    errs.push_back(
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
        "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
        "'[-._a-zA-Z0-9]+')");
  if (key == ".") {
    errs.push_back("must not be '.'");
  } else if (key == "..") {
    errs.push_back("must not be '..'");
  } else if (key.rfind("..", 0) == 0) {
    errs.push_back("must not start with '..'");
  }
  return errs;
}

std::string KeyPath(const std::string& key) { return "data[" + key + "]"; }

// The keys each well-known type requires (Kubernetes' ValidateSecret).
struct TypeRule {
  const char* type;
  std::vector<const char*> required;
};
const std::vector<TypeRule>& TypeRules() {
  static const std::vector<TypeRule> kRules = {
      {kSecretTypeDockerConfigJson, {kDockerConfigJsonKey}},
      {kSecretTypeDockerCfg, {kDockerCfgKey}},
      {"kubernetes.io/tls", {"tls.crt", "tls.key"}},
      {"kubernetes.io/ssh-auth", {"ssh-privatekey"}},
  };
  return kRules;
}

}  // namespace

SchemaPtr SecretSchema() {
  return Obj({{"apiVersion", Str()},
              {"kind", Str()},
              {"metadata", ObjectMetaSchema()},
              {"data", MapOf(Str()).Describe("Base64-encoded values by key")},
              {"stringData", MapOf(Str()).Describe("Write-only plain values merged into data")},
              {"type", Str().Default(kSecretTypeOpaque)},
              {"immutable", Bool()}});
}

const ResourceInfo& SecretResource() { return *FindByKind("v1", "Secret"); }

void MergeStringData(Json& secret) {
  if (!secret.is_object()) return;
  auto sd = secret.find("stringData");
  if (sd == secret.end()) return;
  if (sd->is_null()) {
    secret.erase(sd);
    return;
  }
  if (!sd->is_object()) return;
  for (const auto& [k, v] : sd->items())
    if (!v.is_string()) return;
  auto d = secret.find("data");
  if (d != secret.end() && !d->is_object() && !d->is_null()) return;
  Json& data = secret["data"];
  if (data.is_null()) data = Json::object();
  for (const auto& [k, v] : secret["stringData"].items())
    data[k] = Base64Encode(v.get_ref<const std::string&>());
  secret.erase("stringData");
}

void ValidateSecret(const Json& secret, FieldErrors* out) {
  const Json* data = Find(secret, "data");
  size_t total = 0;
  if (data && data->is_object()) {
    for (const auto& [key, value] : data->items()) {
      for (auto& msg : ConfigKeyErrors(key))
        out->push_back({FieldErrorType::kInvalid, KeyPath(key), key, std::move(msg)});
      if (!value.is_string()) continue;  // the schema reports it
      auto decoded = Base64Decode(value.get_ref<const std::string&>());
      if (!decoded) {
        out->push_back(
            {FieldErrorType::kInvalid, KeyPath(key), kRedacted, decoded.error().message});
        continue;
      }
      total += decoded->size();
    }
  }
  if (total > kMaxSecretBytes)
    out->push_back({FieldErrorType::kTooLong, "data", nullptr,
                    "may not be more than " + std::to_string(kMaxSecretBytes) + " bytes"});

  std::string type = GetString(secret, "type", kSecretTypeOpaque);
  auto has = [&](const char* key) { return data && data->is_object() && data->contains(key); };
  for (const auto& rule : TypeRules()) {
    if (type != rule.type) continue;
    for (const char* key : rule.required)
      if (!has(key)) out->push_back({FieldErrorType::kRequired, KeyPath(key), nullptr, ""});
  }
  if (type == kSecretTypeDockerConfigJson || type == kSecretTypeDockerCfg) {
    const char* key = type == kSecretTypeDockerCfg ? kDockerCfgKey : kDockerConfigJsonKey;
    if (!has(key) || !(*data)[key].is_string()) return;
    auto decoded = Base64Decode((*data)[key].get_ref<const std::string&>());
    if (!decoded) return;  // reported above
    auto parsed = ParseJson(*decoded);
    if (!parsed || !parsed->is_object())
      out->push_back({FieldErrorType::kInvalid, KeyPath(key), kRedacted,
                      parsed ? "must be a JSON object" : parsed.error().message});
  }
  if (type == "kubernetes.io/basic-auth" && !has("username") && !has("password"))
    out->push_back({FieldErrorType::kRequired, "data[username]", nullptr, ""});
}

FieldErrors ValidateSecretUpdate(const Json& old_secret, const Json& new_secret) {
  FieldErrors out;
  std::string old_type = GetString(old_secret, "type", kSecretTypeOpaque);
  std::string new_type = GetString(new_secret, "type", kSecretTypeOpaque);
  if (old_type != new_type)
    out.push_back({FieldErrorType::kInvalid, "type", new_type, "field is immutable"});
  const Json* was = Find(old_secret, "immutable");
  if (was && was->is_boolean() && was->get<bool>()) {
    const Json* now = Find(new_secret, "immutable");
    if (!now || !now->is_boolean() || !now->get<bool>())
      out.push_back({FieldErrorType::kForbidden, "immutable", nullptr,
                     "field is immutable when `immutable` is set"});
    const Json* old_data = Find(old_secret, "data");
    const Json* new_data = Find(new_secret, "data");
    Json empty = Json::object();
    if ((old_data ? *old_data : empty) != (new_data ? *new_data : empty))
      out.push_back({FieldErrorType::kForbidden, "data", nullptr,
                     "field is immutable when `immutable` is set"});
  }
  return out;
}

Result<std::optional<std::string>> DockerConfigOf(const Json& secret) {
  std::string type = GetString(secret, "type", kSecretTypeOpaque);
  bool legacy = type == kSecretTypeDockerCfg;
  if (type != kSecretTypeDockerConfigJson && !legacy) return std::optional<std::string>();
  std::string key = legacy ? kDockerCfgKey : kDockerConfigJsonKey;
  const Json* data = Find(secret, "data");
  if (!data || !data->is_object() || !data->contains(key) || !(*data)[key].is_string())
    return MakeError(Code::kInvalidArgument, "has no data[" + key + "]");
  ASB_ASSIGN_OR_RETURN(std::string doc, Base64Decode((*data)[key].get_ref<const std::string&>()));
  if (!legacy) return std::optional<std::string>(std::move(doc));
  // .dockercfg is the "auths" object itself.
  ASB_ASSIGN_OR_RETURN(Json auths, ParseJson(doc));
  return std::optional<std::string>(DumpJson(Json{{"auths", std::move(auths)}}));
}

}  // namespace asb::api
