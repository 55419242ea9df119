#include "base/yaml.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>

#include "base/strings.h"

namespace asb {

namespace {

Json ScalarToJson(const std::string& tag, const std::string& s) {
  // Quoted scalars ("250m", "8888") and !!str stay strings; plain ones follow the YAML 1.2 core
  // schema.
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return s;
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

// Builds JSON documents from yaml-cpp's events with an explicit stack (no recursion over the
// input) and every limit checked before the value it guards is allocated. Limit breaches throw
// YAML::ParserException, which unwinds yaml-cpp's own parser at the offending mark.
class JsonBuilder : public YAML::EventHandler {
 public:
  std::vector<Json> TakeDocuments() { return std::move(docs_); }

  void OnDocumentStart(const YAML::Mark&) override { anchors_.clear(); }
  void OnDocumentEnd() override {
    if (root_ && !root_->is_null()) docs_.push_back(std::move(*root_));
    root_.reset();
  }
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (ExpectingKey()) Fail(mark, "YAML map keys must be non-null scalars");
    ++direct_;
    Count(mark, 1);
    Emit(mark, Json(nullptr), anchor, 1, 0);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) Fail(mark, "unknown alias");
    const Anchored& a = it->second;
    if (ExpectingKey()) {
      if (!a.value.is_string()) Fail(mark, "YAML map keys must be scalars");
      stack_.back().key = a.value.get<std::string>();
      return;
    }
    aliased_ += a.nodes;
    if (aliased_ > kYamlAliasAllowance + 10 * direct_)
      Fail(mark, "document contains excessive aliasing");
    Count(mark, a.nodes);
    CheckDepth(mark, static_cast<int>(stack_.size()) + a.depth);
    Emit(mark, a.value, 0, a.nodes, a.depth);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    ++direct_;
    Count(mark, 1);
    if (ExpectingKey()) {
      stack_.back().key = value;
      if (anchor) anchors_[anchor] = {Json(value), 1, 0};
      return;
    }
    Emit(mark, ScalarToJson(tag, value), anchor, 1, 0);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, Json::array(), anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, Json::object(), anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    Json value;
    YAML::Mark mark;
    YAML::anchor_t anchor = 0;
    size_t nodes_before = 0;         // total_ when this container opened
    std::optional<std::string> key;  // maps: the key waiting for its value
  };
  struct Anchored {
    Json value;
    size_t nodes = 0;
    int depth = 0;
  };

  [[noreturn]] static void Fail(const YAML::Mark& mark, const std::string& why) {
    throw YAML::ParserException(mark, why);
  }
  bool ExpectingKey() const {
    return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().key;
  }
  void Count(const YAML::Mark& mark, size_t n) {
    total_ += n;
    if (total_ > kMaxYamlValues)
      Fail(mark, "document has more than " + std::to_string(kMaxYamlValues) + " values");
  }
  void CheckDepth(const YAML::Mark& mark, int depth) {
    if (depth > kMaxJsonDepth)
      Fail(mark, "nesting depth exceeds the limit of " + std::to_string(kMaxJsonDepth));
  }
  void Open(const YAML::Mark& mark, Json empty, YAML::anchor_t anchor) {
    if (ExpectingKey()) Fail(mark, "YAML map keys must be scalars");
    ++direct_;
    Count(mark, 1);
    CheckDepth(mark, static_cast<int>(stack_.size()) + 1);
    stack_.push_back({std::move(empty), mark, anchor, total_ - 1, std::nullopt});
  }
  void Close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    size_t nodes = total_ - f.nodes_before;
    int depth = f.anchor ? JsonDepth(f.value) : 0;
    Emit(f.mark, std::move(f.value), f.anchor, nodes, depth);
  }
  // Places a finished value in its parent (or as the document root) and remembers anchors.
  void Emit(const YAML::Mark& mark, Json v, YAML::anchor_t anchor, size_t nodes, int depth) {
    if (anchor) anchors_[anchor] = {v, nodes, depth};
    if (stack_.empty()) {
      if (root_) Fail(mark, "more than one root value");
      root_ = std::move(v);
      return;
    }
    Frame& parent = stack_.back();
    if (parent.value.is_array()) {
      parent.value.push_back(std::move(v));
    } else {
      parent.value[*parent.key] = std::move(v);
      parent.key.reset();
    }
  }

  std::vector<Frame> stack_;
  std::optional<Json> root_;
  std::vector<Json> docs_;
  std::map<YAML::anchor_t, Anchored> anchors_;
  size_t total_ = 0;    // values decoded, alias copies included
  size_t direct_ = 0;   // values written out in the text
  size_t aliased_ = 0;  // values added by aliases
};

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
  std::istringstream in{std::string(text)};
  JsonBuilder builder;
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const YAML::Exception& e) {
    return MakeError(Code::kInvalidArgument, std::string("invalid YAML: ") + e.what());
  }
  return builder.TakeDocuments();
}

namespace {

// Plain scalars that some YAML reader would take for something other than a string: booleans,
// nulls and numbers (YAML 1.1 readers such as kubectl's also say yes/no/on/off).
bool NeedsQuotes(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return true;
  unsigned char first = static_cast<unsigned char>(s.front());
  if (!std::isalpha(first) && first != '_' && first != '/' && first != '.') return true;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && std::string_view("_./- ()=+,").find(c) == std::string_view::npos)
      return true;
  }
  static const char* const kReserved[] = {"y",    "n",     "yes",  "no", "on",   "off",
                                          "true", "false", "null", "~",  ".inf", ".nan"};
  std::string lower;
  for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* r : kReserved)
    if (lower == r) return true;
  return lower.rfind(".inf", 0) == 0 || lower.rfind(".nan", 0) == 0;
}

std::string Scalar(const Json& j) {
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    return NeedsQuotes(s) ? j.dump() : s;
  }
  return j.dump();  // null, booleans and numbers print the same in JSON and YAML
}

bool IsEmptyCollection(const Json& j) { return (j.is_object() || j.is_array()) && j.empty(); }

void Emit(const Json& j, int indent, std::string* out);

// The value after "key:" or "- ": scalars and empty collections stay on the line.
void EmitValue(const Json& v, int indent, std::string* out, bool in_list) {
  if (IsEmptyCollection(v) || (!v.is_object() && !v.is_array())) {
    *out += ' ';
    *out += IsEmptyCollection(v) ? (v.is_object() ? "{}" : "[]") : Scalar(v);
    *out += '\n';
    return;
  }
  if (in_list && v.is_object()) {
    // "- key: value" with the rest of the map aligned under the first key.
    std::string nested;
    Emit(v, indent + 2, &nested);
    *out += ' ';
    *out += nested.substr(static_cast<size_t>(indent + 2));
    return;
  }
  *out += '\n';
  // Lists under a key sit at the key's indentation (kubectl's and controller-gen's style).
  Emit(v, v.is_array() && !in_list ? indent : indent + 2, out);
}

void Emit(const Json& j, int indent, std::string* out) {
  std::string pad(static_cast<size_t>(indent), ' ');
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      *out += pad + Scalar(Json(k)) + ':';
      EmitValue(v, indent, out, false);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) {
      *out += pad + '-';
      EmitValue(v, indent, out, true);
    }
  } else {
    *out += pad + Scalar(j) + '\n';
  }
}

}  // namespace

std::string DumpYaml(const Json& j) {
  if (IsEmptyCollection(j)) return j.is_object() ? "{}\n" : "[]\n";
  std::string out;
  Emit(j, 0, &out);
  return out;
}

}  // namespace asb
