// YAML manifests to JSON (yaml-cpp). Kept apart from json_util so binaries that must link
// statically (asb-agent) don't pull in yaml-cpp.
#pragma once

#include <string_view>
#include <vector>

#include "base/json_util.h"

namespace asb {

// Parses YAML (a single document) into JSON; kInvalidArgument with line/column on bad input.
// Quoted scalars stay strings ("8888"); plain scalars follow the YAML 1.2 core schema.
[[nodiscard]] Result<Json> ParseYaml(std::string_view text);
// Splits a multi-document YAML (or a single JSON) stream into documents; empty docs skipped.
[[nodiscard]] Result<std::vector<Json>> ParseYamlDocuments(std::string_view text);

}  // namespace asb
