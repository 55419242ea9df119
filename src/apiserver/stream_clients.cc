#include "apiserver/stream_clients.h"

#include <charconv>

namespace asb::apiserver::internal {

namespace {

// "v1.32.4", "v1.32.4-dispatcher", "v0.0.0-master+$Format:%H$" -> major, minor.
bool ParseVersion(std::string_view v, int& major, int& minor) {
  if (v.empty() || v[0] != 'v') return false;
  v.remove_prefix(1);
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), major);
  if (ec != std::errc() || p == v.data() + v.size() || *p != '.') return false;
  ++p;
  auto [q, ec2] = std::from_chars(p, v.data() + v.size(), minor);
  return ec2 == std::errc() && q != p;
}

}  // namespace

bool DropsEarlyExecFrames(std::string_view ua) {
  // client-go's default: "<program>/<version> (<os>/<arch>) kubernetes/<commit>".
  size_t slash = ua.find('/');
  size_t space = ua.find(' ');
  if (slash == std::string_view::npos || space == std::string_view::npos || slash > space)
    return false;
  if (ua.find(") kubernetes/", space) == std::string_view::npos) return false;
  int major = 0, minor = 0;
  if (!ParseVersion(ua.substr(slash + 1, space - slash - 1), major, minor)) return true;
  if (major == 0) return true;  // a library build: its version says nothing of client-go's
  return major == 1 && minor < 34;
}

}  // namespace asb::apiserver::internal
