#include "node/runtime_set.h"

#include <algorithm>

namespace asb::node {

RuntimeSet::RuntimeSet(std::map<std::string, runtime::Runtime*> by_class, std::string default_class)
    : by_class_(std::move(by_class)), default_class_(std::move(default_class)) {
  for (const auto& [cls, rt] : by_class_) {
    if (rt != nullptr && std::find(distinct_.begin(), distinct_.end(), rt) == distinct_.end()) {
      distinct_.push_back(rt);
    }
  }
}

runtime::Runtime* RuntimeSet::For(const std::string& runtime_class, PodFailure* failure) const {
  const std::string& cls = runtime_class.empty() ? default_class_ : runtime_class;
  auto it = by_class_.find(cls);
  if (it == by_class_.end() || it->second == nullptr) {
    *failure = PodFailure{kReasonRuntimeClassNotFound,
                          "runtime class \"" + cls + "\" is not available on this node"};
    return nullptr;
  }
  return it->second;
}

Status RuntimeSet::StopEverywhere(const std::string& sandbox_id,
                                  std::chrono::milliseconds grace) const {
  if (sandbox_id.empty()) return OkStatus();
  for (runtime::Runtime* rt : distinct_) ASB_RETURN_IF_ERROR(rt->Stop(sandbox_id, grace));
  return OkStatus();
}

}  // namespace asb::node
