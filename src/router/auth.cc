#include "router/auth.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/strings.h"

namespace asb::router {

namespace {

// Compares every byte regardless of where the first mismatch is, so response timing does not
// reveal how much of a guessed token was right.
bool ConstantTimeEqual(std::string_view given, std::string_view token) {
  unsigned char diff = given.size() == token.size() ? 0 : 1;
  for (size_t i = 0; i < token.size(); ++i)
    diff |= static_cast<unsigned char>(token[i]) ^
            static_cast<unsigned char>(i < given.size() ? given[i] : 0);
  return diff == 0;
}

// RFC 4648 base64 (padding optional); nullopt on any other character.
std::optional<std::string> Base64Decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=')
      break;
    else
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

bool HasScheme(std::string_view v, std::string_view scheme) {
  return v.size() > scheme.size() && ToLower(v.substr(0, scheme.size())) == scheme;
}

}  // namespace

bool CredentialsValid(const HeaderList& headers, std::string_view token) {
  if (token.empty()) return true;
  const std::string* auth = FindHeader(headers, "Authorization");
  if (auth == nullptr) return false;
  std::string_view v = Trim(*auth);
  if (HasScheme(v, "bearer ")) return ConstantTimeEqual(Trim(v.substr(7)), token);
  if (HasScheme(v, "basic ")) {
    std::optional<std::string> decoded = Base64Decode(Trim(v.substr(6)));
    if (!decoded) return false;
    size_t colon = decoded->find(':');
    if (colon == std::string::npos) return false;
    return ConstantTimeEqual(std::string_view(*decoded).substr(colon + 1), token);
  }
  return false;
}

std::chrono::milliseconds RequestTimeout(const HeaderList& headers,
                                         std::chrono::milliseconds fallback,
                                         std::chrono::milliseconds max) {
  const std::string* h = FindHeader(headers, "X-Sandbox-Timeout");
  if (h == nullptr) return fallback;
  std::string s(Trim(*h));
  if (s.empty() || s.size() > 32) return fallback;
  char* end = nullptr;
  double seconds = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(seconds) || seconds <= 0) return fallback;
  double ms = std::ceil(seconds * 1000.0);
  if (ms >= static_cast<double>(max.count())) return max;
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

}  // namespace asb::router
