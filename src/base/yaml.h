// YAML manifests to JSON (yaml-cpp). Kept apart from json_util so binaries that must link
// statically (asb-agent) don't pull in yaml-cpp.
//
// Decoding is bounded while it runs, from yaml-cpp's event stream (never its node graph): nesting
// deeper than kMaxJsonDepth, more than kMaxYamlValues values, or aliases that expand to more
// than kYamlAliasAllowance + 10 x the document's own values ("billion laughs") stop the parse
// with kInvalidArgument before the expansion is allocated.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "base/json_util.h"

namespace asb {

// Values (scalars, lists, maps, alias copies included) one YAML stream may decode to.
inline constexpr size_t kMaxYamlValues = size_t{1} << 20;
// Values aliases may add beyond 10 x the values written out in the text.
inline constexpr size_t kYamlAliasAllowance = 10000;

// Parses YAML (a single document) into JSON; kInvalidArgument with line/column on bad input.
// Quoted scalars stay strings ("8888"); plain scalars follow the YAML 1.2 core schema.
[[nodiscard]] Result<Json> ParseYaml(std::string_view text);
// Splits a multi-document YAML (or a single JSON) stream into documents; empty docs skipped.
[[nodiscard]] Result<std::vector<Json>> ParseYamlDocuments(std::string_view text);

// Block-style YAML for `j` (no trailing document marker), for generated manifests people read
// (asbd crds). A string is written plain only when YAML 1.1 and 1.2 both read it back as that
// string; otherwise it is double-quoted with JSON escapes, so ParseYaml(DumpYaml(j)) == j.
std::string DumpYaml(const Json& j);

}  // namespace asb
