#include "base/json_util.h"

#include <utility>
#include <vector>

#include "base/strings.h"

namespace asb {

namespace {

// nlohmann's DOM builder behind a depth gate: returning false from a SAX callback stops the
// parse at once, so a 10^6-deep array costs max_depth allocations, not 10^6.
class DepthLimitedSax {
 public:
  DepthLimitedSax(Json& root, int max_depth)
      : dom_(root, /*allow_exceptions=*/false), max_depth_(max_depth) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(Json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(Json::number_float_t v, const Json::string_t& s) {
    return dom_.number_float(v, s);
  }
  bool string(Json::string_t& v) { return dom_.string(v); }
  bool binary(Json::binary_t& v) { return dom_.binary(v); }
  bool key(Json::string_t& v) { return dom_.key(v); }
  bool start_object(std::size_t n) { return Enter() && dom_.start_object(n); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return Enter() && dom_.start_array(n); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  bool parse_error(std::size_t, const std::string&, const Json::exception& e) {
    error_ = std::string("invalid JSON: ") + e.what();
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  bool Enter() {
    if (++depth_ <= max_depth_) return true;
    error_ = "invalid JSON: nesting depth exceeds the limit of " + std::to_string(max_depth_);
    return false;
  }

  nlohmann::detail::json_sax_dom_parser<Json> dom_;
  int max_depth_;
  int depth_ = 0;
  std::string error_;
};

}  // namespace

Result<Json> ParseJson(std::string_view text, int max_depth) {
  Json root;
  DepthLimitedSax sax(root, max_depth);
  bool ok = Json::sax_parse(text.begin(), text.end(), &sax, nlohmann::detail::input_format_t::json,
                            /*strict=*/true);
  if (!ok || !sax.error().empty())
    return MakeError(Code::kInvalidArgument, sax.error().empty() ? "invalid JSON" : sax.error());
  return root;
}

std::string DumpJson(const Json& j, int indent) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

int JsonDepth(const Json& j) {
  int deepest = 0;
  std::vector<std::pair<const Json*, int>> todo = {{&j, 0}};
  while (!todo.empty()) {
    auto [v, d] = todo.back();
    todo.pop_back();
    if (!v->is_structured()) continue;
    deepest = std::max(deepest, d + 1);
    for (const Json& child : *v) todo.emplace_back(&child, d + 1);
  }
  return deepest;
}

size_t JsonNodeCount(const Json& j) {
  size_t n = 0;
  std::vector<const Json*> todo = {&j};
  while (!todo.empty()) {
    const Json* v = todo.back();
    todo.pop_back();
    ++n;
    if (v->is_structured())
      for (const Json& child : *v) todo.push_back(&child);
  }
  return n;
}

const Json* Find(const Json& j, std::string_view dotted_path) {
  // Walks the path in place (no Split into strings): this runs many times per reconcile, and
  // the objects' maps look keys up by string_view (nlohmann's std::less<>).
  const Json* cur = &j;
  for (size_t start = 0;;) {
    size_t dot = dotted_path.find('.', start);
    std::string_view part = dotted_path.substr(
        start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string_view::npos) return cur;
    start = dot + 1;
  }
}

std::string GetString(const Json& j, std::string_view dotted_path, std::string fallback) {
  const Json* v = Find(j, dotted_path);
  if (!v || !v->is_string()) return fallback;
  return v->get<std::string>();
}

}  // namespace asb
