// nlohmann::json adapters that never throw, plus small accessors for unstructured objects.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/result.h"

namespace asb {

using Json = nlohmann::json;

// Parses JSON text; kInvalidArgument with the parser's position on bad input.
[[nodiscard]] Result<Json> ParseJson(std::string_view text);
// JSON serialisation that never throws: invalid UTF-8 is replaced.
std::string DumpJson(const Json& j, int indent = -1);

// Walks a dotted path ("metadata.name") and returns nullptr if any step is missing.
const Json* Find(const Json& j, std::string_view dotted_path);
// Returns the string at the path or `fallback` when missing or not a string.
std::string GetString(const Json& j, std::string_view dotted_path, std::string fallback = "");

}  // namespace asb
