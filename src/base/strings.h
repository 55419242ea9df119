// String helpers shared by every component.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace asb {

std::vector<std::string> Split(std::string_view s, char sep);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
std::string_view Trim(std::string_view s);
bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);
std::string ToLower(std::string_view s);
// Parses a whole decimal integer; nullopt on junk, overflow or empty input.
std::optional<int64_t> ParseInt(std::string_view s);
// Go's strconv.ParseBool: 1,t,T,TRUE,true,True / 0,f,F,FALSE,false,False.
std::optional<bool> ParseBool(std::string_view s);
// Percent-decoding for URL paths and queries (plus_as_space for query strings).
std::optional<std::string> UrlDecode(std::string_view s, bool plus_as_space = false);
std::string UrlEncode(std::string_view s);
// Lowercase hex of random bytes from getrandom(2).
std::string RandomHex(size_t bytes);

}  // namespace asb
