// Standard base64 (RFC 4648 section 4, with padding), as Kubernetes writes []byte fields in JSON
// (Secret data) and Docker writes credentials. Decoding is strict, like Go's StdEncoding: no
// whitespace, padding required, so a value the API server accepts is one every client reads the
// same way.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace asb {

std::string Base64Encode(std::string_view data);

// kInvalidArgument "illegal base64 data at input byte N" (Go's wording) on anything else.
[[nodiscard]] Result<std::string> Base64Decode(std::string_view text);

}  // namespace asb
