#include "image/registry/blob_resume.h"

#include <algorithm>

#include "base/strings.h"

namespace asb::image::registry {
namespace {

// Digits only: ParseInt also takes a sign, which no byte position has.
std::optional<int64_t> ParsePosition(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  return ParseInt(s);
}

}  // namespace

Result<ContentRange> ParseContentRange(std::string_view value) {
  auto bad = [&] {
    return MakeError(Code::kInvalidArgument,
                     "bad Content-Range \"" + std::string(value.substr(0, 100)) + "\"");
  };
  std::string_view v = Trim(value);
  if (!StartsWith(v, "bytes ")) return bad();
  v = Trim(v.substr(6));
  size_t dash = v.find('-'), slash = v.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) {
    return bad();
  }
  auto first = ParsePosition(v.substr(0, dash));
  auto last = ParsePosition(v.substr(dash + 1, slash - dash - 1));
  if (!first || !last || *last < *first) return bad();
  ContentRange r{.first = *first, .last = *last, .total = std::nullopt};
  std::string_view total = v.substr(slash + 1);
  if (total != "*") {
    r.total = ParsePosition(total);
    if (!r.total || r.last >= *r.total) return bad();
  }
  return r;
}

Result<int64_t> BytesToSkip(int status, const std::optional<std::string>& content_range,
                            int64_t have, int64_t size) {
  if (status == 200) return have;
  if (status != 206) {
    return MakeError(Code::kFailedPrecondition,
                     "unexpected HTTP " + std::to_string(status) + " for a blob");
  }
  if (!content_range) {
    return MakeError(Code::kFailedPrecondition, "206 Partial Content without Content-Range");
  }
  auto r = ParseContentRange(*content_range);
  if (!r) return MakeError(Code::kFailedPrecondition, r.error().message);
  if (r->total && *r->total != size) {
    return MakeError(Code::kFailedPrecondition, "Content-Range \"" + *content_range +
                                                    "\" is of a " + std::to_string(*r->total) +
                                                    "-byte blob, the manifest says " +
                                                    std::to_string(size));
  }
  if (r->first > have) {
    return MakeError(Code::kFailedPrecondition, "Content-Range \"" + *content_range +
                                                    "\" starts after byte " + std::to_string(have) +
                                                    ", where the download stopped");
  }
  if (r->last >= size) {
    return MakeError(Code::kFailedPrecondition, "Content-Range \"" + *content_range +
                                                    "\" ends past the manifest's " +
                                                    std::to_string(size) + " bytes");
  }
  return have - r->first;
}

std::chrono::milliseconds ResumeBackoff(int stalled) {
  if (stalled <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(std::min(250 << std::min(stalled - 1, 4), 2000));
}

std::string IfRangeValidator(const std::optional<std::string>& etag) {
  if (!etag) return "";
  std::string_view e = Trim(*etag);
  if (e.size() < 2 || e.front() != '"' || e.back() != '"') return "";
  return std::string(e);
}

}  // namespace asb::image::registry
