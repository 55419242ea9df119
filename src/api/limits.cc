#include "api/limits.h"

#include <string>

namespace asb::api {

Status CheckObjectLimits(const Json& obj) {
  if (JsonDepth(obj) > kMaxJsonDepth)
    return MakeError(Code::kInvalidArgument,
                     "the object nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  size_t bytes = DumpJson(obj).size();
  if (bytes > kMaxObjectBytes)
    return MakeError(Code::kResourceExhausted, "the object is " + std::to_string(bytes) +
                                                   " bytes, more than the limit of " +
                                                   std::to_string(kMaxObjectBytes));
  return OkStatus();
}

}  // namespace asb::api
