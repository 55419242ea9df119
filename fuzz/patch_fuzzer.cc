// The three patch formats: "<original JSON>\0<patch JSON>".
#include "api/patch.h"
#include "api/resource.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [doc_text, patch_text] = asb::fuzz::SplitAtNul(asb::fuzz::AsText(data, size));
  auto doc = asb::ParseJson(doc_text);
  auto patch = asb::ParseJson(patch_text);
  if (!doc || !patch) return 0;
  const asb::api::Schema& pod = asb::api::KindSchema(asb::api::PodResource());
  if (auto out = asb::api::ApplyMergePatch(*doc, *patch)) (void)asb::DumpJson(*out);
  if (auto out = asb::api::ApplyStrategicMergePatch(*doc, *patch, &pod)) (void)asb::DumpJson(*out);
  if (auto out = asb::api::ApplyJsonPatch(*doc, *patch)) (void)asb::DumpJson(*out);
  return 0;
}
