// The API server's write path for a body: JSON or YAML decode, then for every kind the limit
// check, unknown-field pruning, defaulting and validation (whose messages print values).
#include "api/limits.h"
#include "api/schema.h"
#include "api/validation.h"
#include "base/yaml.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = asb::fuzz::AsText(data, size);
  std::vector<asb::Json> docs;
  if (auto j = asb::ParseJson(text)) docs.push_back(std::move(*j));
  if (auto y = asb::ParseYamlDocuments(text)) {
    for (auto& d : *y) docs.push_back(std::move(d));
  }
  for (const asb::Json& doc : docs) {
    if (!doc.is_object() || !asb::api::CheckObjectLimits(doc)) continue;
    for (const auto& res : asb::api::AllResources()) {
      asb::Json obj = doc;
      (void)asb::api::FindUnknownFields(asb::api::KindSchema(res), obj, /*prune=*/true);
      asb::api::ApplyDefaults(res, obj);
      for (const auto& e : asb::api::ValidateObject(res, obj)) (void)e.ToString();
      (void)asb::api::ValidateUpdate(res, doc, obj);
    }
  }
  return 0;
}
