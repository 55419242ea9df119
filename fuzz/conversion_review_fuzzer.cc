// The conversion webhook's input: any body kube-apiserver (or anyone reaching the Service) POSTs
// to /convert, and any object inside a well-formed review, converted to each served version.
// Nothing may crash, and the answer is always a ConversionReview.
#include <cstdlib>

#include "fuzz_util.h"
#include "webhook/conversion_review.h"

namespace {

void ExpectReview(const asb::Json& r) {
  if (!r.is_object() || r.value("kind", "") != "ConversionReview" || !r.contains("response"))
    abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = asb::fuzz::AsText(data, size);
  asb::http::Request req;
  req.method = "POST";
  req.body = std::string(text);
  asb::http::Response resp = asb::webhook::HandleConvert(req);
  auto parsed = asb::ParseJson(resp.body);
  if (!parsed) abort();
  ExpectReview(*parsed);
  // The body as an object of a review, so mutations reach the per-kind conversion directly.
  if (auto obj = asb::ParseJson(text)) {
    for (const char* desired :
         {"agents.x-k8s.io/v1alpha1", "agents.x-k8s.io/v1beta1",
          "extensions.agents.x-k8s.io/v1alpha1", "extensions.agents.x-k8s.io/v1beta1"}) {
      asb::Json review = {
          {"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "ConversionReview"},
          {"request",
           {{"uid", "u"}, {"desiredAPIVersion", desired}, {"objects", asb::Json::array({*obj})}}}};
      ExpectReview(asb::webhook::Convert(review));
    }
  }
  return 0;
}
