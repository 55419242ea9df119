// RuntimeSet: the runtimes a node runs sandboxes with, by runtime class. Unset class -> the
// default class; "native" and "gvisor" pick the runtime registered under that name. Any other
// class, or one whose runtime isn't available (a null entry), fails the pod
// (RuntimeClassNotFound): the node never falls back to a weaker isolation.
// Immutable after construction; thread-safe as far as the runtimes are.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"
#include "node/pod_spec.h"
#include "runtime/runtime.h"

namespace asb::node {

class RuntimeSet {
 public:
  RuntimeSet(std::map<std::string, runtime::Runtime*> by_class, std::string default_class);

  // The runtime for `runtime_class` ("" = the default); nullptr with *failure set when it can't
  // run here.
  runtime::Runtime* For(const std::string& runtime_class, PodFailure* failure) const;
  // Each available runtime once (two classes may share one).
  const std::vector<runtime::Runtime*>& distinct() const { return distinct_; }
  // Stops the sandbox in every runtime (Stop is idempotent), so none can leak. "" is a no-op.
  [[nodiscard]] Status StopEverywhere(const std::string& sandbox_id,
                                      std::chrono::milliseconds grace) const;

 private:
  std::map<std::string, runtime::Runtime*> by_class_;
  std::string default_class_;
  std::vector<runtime::Runtime*> distinct_;
};

}  // namespace asb::node
