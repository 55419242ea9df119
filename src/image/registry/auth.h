// Registry authentication pieces (distribution's token auth, Docker's config.json credentials).
//   - a 401 carries `WWW-Authenticate: Bearer realm="https://auth/token",service="reg",
//     scope="repository:team/app:pull"` (the token dance: GET realm?service=&scope= with Basic
//     credentials when we have them, then retry with `Authorization: Bearer <token>`), or
//     `Basic realm="..."` (send the credentials directly).
//   - credentials come from a kubernetes.io/dockerconfigjson Secret's .dockerconfigjson:
//     {"auths":{"host[:port]":{"auth":"base64(user:pass)"} | {"username","password"}}}.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace asb::image::registry {

struct Challenge {
  std::string scheme;                         // "bearer" or "basic" (lower-cased)
  std::map<std::string, std::string> params;  // realm, service, scope (keys lower-cased)
};

// Parses one WWW-Authenticate value. kInvalidArgument on a malformed header.
[[nodiscard]] Result<Challenge> ParseChallenge(std::string_view header);

struct Credentials {
  std::string username;
  std::string password;
  bool empty() const { return username.empty() && password.empty(); }
};

// The credentials a dockerconfigjson document holds for `registry` (a key may be written as
// "host", "https://host" or "https://host/v1/"); nullopt when none. kInvalidArgument when the
// document is not valid.
[[nodiscard]] Result<std::optional<Credentials>> CredentialsFor(std::string_view dockerconfigjson,
                                                                std::string_view registry);

// Lenient, as Docker reads config.json's `auth`: padding and line breaks are skipped (the
// strict decoder is asb::Base64Decode). Encoding is asb::Base64Encode.
std::optional<std::string> Unbase64(std::string_view data);

}  // namespace asb::image::registry
