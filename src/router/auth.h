// Request credentials and per-request options the router honours besides routing (validate.h).
//
// Credentials: "Authorization: Bearer <token>", or HTTP Basic with the token as the password (any
// user name). Basic is what upstream's Python SDK can send without code changes: `requests`
// takes it from URL user-info or a netrc file (asbd writes DIR/netrc, see README).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "router/validate.h"

namespace asb::router {

// True when `token` is empty (authentication off) or the request carries it.
bool CredentialsValid(const HeaderList& headers, std::string_view token);

// X-Sandbox-Timeout (seconds, integer or decimal, > 0; what upstream's SDKs send for a request's
// own timeout), capped at `max`; `fallback` when absent or malformed.
std::chrono::milliseconds RequestTimeout(const HeaderList& headers,
                                         std::chrono::milliseconds fallback,
                                         std::chrono::milliseconds max);

}  // namespace asb::router
