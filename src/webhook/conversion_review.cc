#include "webhook/conversion_review.h"

#include <exception>
#include <string>
#include <utility>

#include "api/conversion.h"
#include "api/resource.h"

namespace asb::webhook {

namespace {

constexpr std::string_view kReviewApiVersion = "apiextensions.k8s.io/v1";

Json Review(Json response) {
  return {{"apiVersion", kReviewApiVersion},
          {"kind", "ConversionReview"},
          {"response", std::move(response)}};
}

struct Outcome {
  Json review;
  bool readable = true;  // false: not a ConversionReview at all (HTTP 400)
};

Outcome Fail(std::string_view uid, const std::string& message, bool readable) {
  return {FailureReview(uid, message), readable};
}

bool IsObjectOrAbsent(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() || it->is_object();
}

// Why object `obj` can't be converted into group `group`, or "" when it can.
std::string CheckObject(const Json& obj, std::string_view group) {
  if (!obj.is_object()) return "is not an object";
  const Json* av = Find(obj, "apiVersion");
  const Json* kind = Find(obj, "kind");
  if (!av || !av->is_string() || !kind || !kind->is_string()) return "has no apiVersion and kind";
  const api::ResourceInfo* res = api::FindByKind(av->get<std::string>(), kind->get<std::string>());
  if (!res || !api::IsAgentsKind(*res))
    return "is a " + kind->get<std::string>() + " of " + av->get<std::string>() +
           ", not an agent-sandbox kind this webhook converts";
  if (res->group != group)
    return "is in group " + res->group + ", not the desired " + std::string(group);
  if (!IsObjectOrAbsent(obj, "metadata") || !IsObjectOrAbsent(obj, "spec") ||
      !IsObjectOrAbsent(obj, "status"))
    return "has a metadata, spec or status that is not an object";
  if (const Json* meta = Find(obj, "metadata"); meta && !IsObjectOrAbsent(*meta, "annotations"))
    return "has metadata.annotations that is not an object";
  return "";
}

Outcome ConvertReview(const Json& review) {
  if (!review.is_object() || GetString(review, "kind") != "ConversionReview")
    return Fail("", "the body is not a ConversionReview", false);
  if (GetString(review, "apiVersion") != kReviewApiVersion)
    return Fail("",
                "unsupported ConversionReview version \"" + GetString(review, "apiVersion") +
                    "\": this webhook speaks " + std::string(kReviewApiVersion),
                false);
  const Json* request = Find(review, "request");
  if (!request || !request->is_object()) return Fail("", "the review has no request", false);
  const Json* uid = Find(*request, "uid");
  if (!uid || !uid->is_string() || uid->get_ref<const std::string&>().empty())
    return Fail("", "request.uid is missing", false);
  const std::string& id = uid->get_ref<const std::string&>();

  std::string desired = GetString(*request, "desiredAPIVersion");
  size_t slash = desired.rfind('/');
  std::string group = slash == std::string::npos ? "" : desired.substr(0, slash);
  std::string version = slash == std::string::npos ? desired : desired.substr(slash + 1);
  if ((group != api::kAgentsGroup && group != api::kExtensionsGroup) ||
      (version != "v1alpha1" && version != "v1beta1"))
    return Fail(id,
                "request.desiredAPIVersion \"" + desired +
                    "\" is not a served version (v1alpha1 or v1beta1 of " +
                    std::string(api::kAgentsGroup) + " or " + std::string(api::kExtensionsGroup) +
                    ")",
                true);
  const Json* objects = Find(*request, "objects");
  if (!objects || !objects->is_array()) return Fail(id, "request.objects is not a list", true);
  if (objects->size() > kMaxReviewObjects)
    return Fail(id,
                "request.objects has " + std::to_string(objects->size()) + " objects; at most " +
                    std::to_string(kMaxReviewObjects) + " are converted",
                true);

  Json converted = Json::array();
  for (size_t i = 0; i < objects->size(); ++i) {
    const Json& obj = (*objects)[i];
    std::string name = obj.is_object() ? GetString(obj, "metadata.name") : "";
    std::string where =
        "request.objects[" + std::to_string(i) + "]" + (name.empty() ? "" : " (" + name + ")");
    if (std::string why = CheckObject(obj, group); !why.empty())
      return Fail(id, where + " " + why, true);
    try {
      Json out = api::ConvertToVersion(obj, version);
      if (GetString(out, "apiVersion") != desired)
        return Fail(id, where + " could not be converted to " + desired, true);
      converted.push_back(std::move(out));
    } catch (const std::exception& e) {
      // Security: a hostile object must fail its review, not the process serving every CRD.
      return Fail(id, where + " could not be converted: " + e.what(), true);
    }
  }
  return {Review({{"uid", id},
                  {"convertedObjects", std::move(converted)},
                  {"result", {{"metadata", Json::object()}, {"status", "Success"}}}}),
          true};
}

}  // namespace

Json FailureReview(std::string_view uid, std::string_view message) {
  return Review({{"uid", uid},
                 {"result",
                  {{"metadata", Json::object()},
                   {"status", "Failure"},
                   {"reason", "BadRequest"},
                   {"code", 400},
                   {"message", message}}}});
}

Json Convert(const Json& review) { return ConvertReview(review).review; }

http::Response HandleConvert(const http::Request& request) {
  auto body = ParseJson(request.body);
  if (!body)
    return http::Response::Json(400,
                                FailureReview("", "the body is not JSON: " + body.error().message));
  Outcome out = ConvertReview(*body);
  return http::Response::Json(out.readable ? 200 : 400, out.review);
}

}  // namespace asb::webhook
