#include "base/yaml.h"

#include <yaml-cpp/yaml.h>

#include "base/strings.h"

namespace asb {

namespace {

Json ScalarToJson(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  // Quoted scalars ("250m", "8888") stay strings; plain ones follow YAML 1.2 core schema.
  if (node.Tag() == "!") return s;
  if (s == "null" || s == "~" || s == "Null" || s == "NULL" || s.empty()) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (auto i = ParseInt(s)) return *i;
  if (s.find_first_not_of("0123456789+-.eE") == std::string::npos &&
      s.find_first_of("0123456789") != std::string::npos) {
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end && *end == '\0') return d;
  }
  return s;
}

Result<Json> NodeToJson(const YAML::Node& node, int depth) {
  if (depth > 100) return MakeError(Code::kInvalidArgument, "YAML nested too deeply");
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return Json(nullptr);
    case YAML::NodeType::Scalar:
      return ScalarToJson(node);
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      for (const auto& child : node) {
        ASB_ASSIGN_OR_RETURN(Json v, NodeToJson(child, depth + 1));
        arr.push_back(std::move(v));
      }
      return arr;
    }
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar())
          return MakeError(Code::kInvalidArgument, "YAML map keys must be scalars");
        ASB_ASSIGN_OR_RETURN(Json v, NodeToJson(kv.second, depth + 1));
        obj[kv.first.Scalar()] = std::move(v);
      }
      return obj;
    }
  }
  return Json(nullptr);
}

}  // namespace

Result<Json> ParseYaml(std::string_view text) {
  ASB_ASSIGN_OR_RETURN(std::vector<Json> docs, ParseYamlDocuments(text));
  if (docs.empty()) return MakeError(Code::kInvalidArgument, "empty document");
  if (docs.size() > 1)
    return MakeError(Code::kInvalidArgument,
                     "expected one document, got " + std::to_string(docs.size()));
  return docs[0];
}

Result<std::vector<Json>> ParseYamlDocuments(std::string_view text) {
  std::vector<Json> out;
  try {
    for (const YAML::Node& doc : YAML::LoadAll(std::string(text))) {
      ASB_ASSIGN_OR_RETURN(Json j, NodeToJson(doc, 0));
      if (j.is_null()) continue;
      out.push_back(std::move(j));
    }
  } catch (const YAML::Exception& e) {
    return MakeError(Code::kInvalidArgument, std::string("invalid YAML: ") + e.what());
  }
  return out;
}

}  // namespace asb
