// multipart/form-data (RFC 7578) parsing for POST /upload. Parts point into the request body, so
// a 50 MiB upload is not copied while it is parsed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace asb::agent {

struct MultipartPart {
  std::string name;                     // Content-Disposition name="..."
  std::optional<std::string> filename;  // filename="..." or filename*=UTF-8''..., if present
  std::string content_type;             // the part's Content-Type header, "" if absent
  std::string_view data;                // the part's bytes; a view into the parsed body
};

// Extracts the boundary parameter of a "multipart/form-data; boundary=..." Content-Type.
// kInvalidArgument if the type is not multipart/form-data or has no usable boundary.
[[nodiscard]] Result<std::string> MultipartBoundary(std::string_view content_type);

// Splits `body` on `boundary`. The parts' `data` views stay valid as long as `body` does.
// Binary content, CRLFs and boundary-like text that is not a full delimiter line are kept
// verbatim. kInvalidArgument names the problem (missing first boundary, unterminated headers,
// missing closing delimiter, part without Content-Disposition). Pure; thread-safe.
[[nodiscard]] Result<std::vector<MultipartPart>> ParseMultipart(std::string_view body,
                                                                std::string_view boundary);

}  // namespace asb::agent
