#include "base/json_util.h"

#include "base/strings.h"

namespace asb {

Result<Json> ParseJson(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Re-parse with exceptions to recover the position for the message.
    try {
      Json ignored = Json::parse(text.begin(), text.end());
      (void)ignored;
    } catch (const Json::parse_error& e) {
      return MakeError(Code::kInvalidArgument, std::string("invalid JSON: ") + e.what());
    } catch (...) {
    }
    return MakeError(Code::kInvalidArgument, "invalid JSON");
  }
  return j;
}

std::string DumpJson(const Json& j, int indent) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

const Json* Find(const Json& j, std::string_view dotted_path) {
  const Json* cur = &j;
  for (const std::string& part : Split(dotted_path, '.')) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

std::string GetString(const Json& j, std::string_view dotted_path, std::string fallback) {
  const Json* v = Find(j, dotted_path);
  if (!v || !v->is_string()) return fallback;
  return v->get<std::string>();
}

}  // namespace asb
