#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <iostream>

#include "base/file_util.h"
#include "base/strings.h"
#include "base/yaml.h"
#include "cli/cli.h"

namespace asb::cli {

namespace {

void Emit(YAML::Emitter& out, const Json& j) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (auto it = j.begin(); it != j.end(); ++it) {
      out << YAML::Key << it.key() << YAML::Value;
      Emit(out, it.value());
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& e : j) Emit(out, e);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    // Quote strings YAML would read back as another type ("8888", "true", "null").
    auto reparsed = ParseYaml(s);
    bool ambiguous = s.empty() || !reparsed || !reparsed->is_string() || *reparsed != j;
    if (ambiguous) out << YAML::DoubleQuoted;
    out << s;
  } else if (j.is_null()) {
    out << YAML::Null;
  } else {
    out << DumpJson(j);
  }
}

}  // namespace

std::string ObjectRef(const api::ResourceInfo& res, const std::string& name) {
  std::string kind = ToLower(res.kind);
  return (res.group.empty() ? kind : kind + "." + res.group) + "/" + name;
}

std::string ToYaml(const Json& j) {
  YAML::Emitter out;
  Emit(out, j);
  return std::string(out.c_str()) + "\n";
}

int ReportError(Context& ctx, const Error& e) {
  // A server's Status carries its reason beside the message (client::ErrorFromResponse).
  if (!e.reason.empty()) {
    fprintf(ctx.err, "Error from server (%s): %s\n", e.reason.c_str(), e.message.c_str());
    return kExitError;
  }
  fprintf(ctx.err, "error: %s\n", e.message.c_str());
  return kExitError;
}

Result<std::vector<Json>> ReadManifests(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    auto read = ReadFile(path);
    if (!read) return tl::unexpected(read.error());
    text = std::move(*read);
  }
  auto docs = ParseYamlDocuments(text);
  if (!docs) return tl::unexpected(docs.error().Wrap(path == "-" ? "stdin" : path));
  std::vector<Json> out;
  for (auto& d : *docs) {
    // A v1 List holds more documents.
    if (GetString(d, "kind") == "List" && d.contains("items") && d["items"].is_array()) {
      for (auto& item : d["items"]) out.push_back(std::move(item));
    } else {
      out.push_back(std::move(d));
    }
  }
  return out;
}

}  // namespace asb::cli
