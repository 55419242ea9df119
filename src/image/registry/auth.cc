#include "image/registry/auth.h"

#include <cctype>

#include "base/json_util.h"
#include "base/strings.h"

namespace asb::image::registry {

Result<Challenge> ParseChallenge(std::string_view header) {
  auto bad = [&](const std::string& why) {
    return MakeError(Code::kInvalidArgument,
                     "bad WWW-Authenticate \"" + std::string(header) + "\": " + why);
  };
  std::string_view s = Trim(header);
  size_t sp = s.find(' ');
  Challenge c;
  c.scheme = ToLower(s.substr(0, sp));
  if (c.scheme.empty()) return bad("no scheme");
  if (sp == std::string_view::npos) return c;
  s = s.substr(sp + 1);
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',')) ++i;
    if (i >= s.size()) break;
    size_t eq = s.find('=', i);
    if (eq == std::string_view::npos) return bad("parameter without '='");
    std::string key = ToLower(Trim(s.substr(i, eq - i)));
    i = eq + 1;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char ch = s[i++];
        if (ch == '\\' && i < s.size()) {
          value.push_back(s[i++]);
        } else if (ch == '"') {
          closed = true;
          break;
        } else {
          value.push_back(ch);
        }
      }
      if (!closed) return bad("unterminated quoted value");
    } else {
      size_t end = s.find(',', i);
      value = std::string(Trim(s.substr(i, end == std::string_view::npos ? end : end - i)));
      i = end == std::string_view::npos ? s.size() : end;
    }
    if (key.empty()) return bad("empty parameter name");
    c.params[key] = value;
  }
  return c;
}

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string RegistryKey(std::string_view key) {
  std::string k(key);
  for (std::string_view scheme : {"https://", "http://"}) {
    if (StartsWith(k, scheme)) k = k.substr(scheme.size());
  }
  if (size_t slash = k.find('/'); slash != std::string::npos) k = k.substr(0, slash);
  return k;
}

}  // namespace

std::optional<std::string> Unbase64(std::string_view data) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : data) {
    if (ch == '=' || ch == '\n' || ch == '\r') continue;
    const char* p = std::char_traits<char>::find(kAlphabet, 64, ch);
    if (p == nullptr) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

Result<std::optional<Credentials>> CredentialsFor(std::string_view dockerconfigjson,
                                                  std::string_view registry) {
  auto parsed = ParseJson(dockerconfigjson);
  if (!parsed || !parsed->is_object()) {
    return MakeError(Code::kInvalidArgument, ".dockerconfigjson is not a JSON object");
  }
  auto auths = parsed->find("auths");
  if (auths == parsed->end() || !auths->is_object()) return std::optional<Credentials>();
  for (const auto& [key, entry] : auths->items()) {
    if (RegistryKey(key) != registry || !entry.is_object()) continue;
    Credentials c;
    if (auto a = entry.find("auth"); a != entry.end() && a->is_string()) {
      auto decoded = Unbase64(a->get<std::string>());
      size_t colon = decoded ? decoded->find(':') : std::string::npos;
      if (colon == std::string::npos) {
        return MakeError(Code::kInvalidArgument, ".dockerconfigjson: auths[\"" + key +
                                                     "\"].auth is not base64(user:password)");
      }
      c.username = decoded->substr(0, colon);
      c.password = decoded->substr(colon + 1);
    } else {
      c.username = entry.value("username", "");
      c.password = entry.value("password", "");
    }
    return std::optional<Credentials>(c);
  }
  return std::optional<Credentials>();
}

}  // namespace asb::image::registry
