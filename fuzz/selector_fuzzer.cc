// Label and field selectors from list/watch query parameters, matched against a fixed object.
#include "api/resource.h"
#include "fuzz_util.h"
#include "store/selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = asb::fuzz::AsText(data, size);
  static const asb::Json kPod = {
      {"metadata", {{"name", "p"}, {"namespace", "default"}, {"labels", {{"app", "x"}}}}},
      {"spec", {{"nodeName", "n"}}},
      {"status", {{"phase", "Running"}}}};
  if (auto labels = asb::store::ParseLabelSelector(text)) (void)labels->MatchesObject(kPod);
  if (auto fields = asb::store::ParseFieldSelector(asb::api::PodResource(), text))
    (void)fields->Matches(kPod);
  if (auto j = asb::ParseJson(text)) (void)asb::store::LabelSelectorFromJson(*j);
  return 0;
}
