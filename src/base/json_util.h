// nlohmann::json adapters that never throw, plus small accessors for unstructured objects.
//
// Decoding is bounded before it allocates: ParseJson stops at the first container nested deeper
// than kMaxJsonDepth, so no decoded value can overflow a recursive walk later (nlohmann's dump,
// copy and comparison recurse) and every stored value stays decodable by Go clients (kubectl's
// decoder stops at 10000 levels).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/result.h"

namespace asb {

using Json = nlohmann::json;

// Deepest nesting of arrays/objects any decoded document may have. Kubernetes objects nest about
// 15 levels (a pod template's affinity terms); 100 leaves room for free-form fields.
inline constexpr int kMaxJsonDepth = 100;

// Parses JSON text; kInvalidArgument with the parser's position on bad input, or when arrays and
// objects nest deeper than `max_depth` (parsing stops there, nothing deeper is allocated).
[[nodiscard]] Result<Json> ParseJson(std::string_view text, int max_depth = kMaxJsonDepth);
// JSON serialisation that never throws: invalid UTF-8 is replaced.
std::string DumpJson(const Json& j, int indent = -1);

// Nesting depth of `j` (a scalar is 0, [] and {} are 1), computed without recursion.
int JsonDepth(const Json& j);
// Number of values in `j` (every scalar, array and object counts once), without recursion.
size_t JsonNodeCount(const Json& j);

// Walks a dotted path ("metadata.name") and returns nullptr if any step is missing.
const Json* Find(const Json& j, std::string_view dotted_path);
// Returns the string at the path or `fallback` when missing or not a string.
std::string GetString(const Json& j, std::string_view dotted_path, std::string fallback = "");

}  // namespace asb
