// LabelIndex: which objects of each resource carry each label (key, and key=value), so a List
// whose selector has an equality or existence requirement visits only the objects that can
// match instead of every object of the kind. A warm claim's lookups (its own sandbox by the
// claim-uid label, a page of its pool's members) then cost the same with 10 or 10,000 sandboxes.
//
// Not locked itself: ObjectStore updates it with its state lock held exclusively, in the same
// step as its tables, and reads it under the shared lock.
#pragma once

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "base/json_util.h"
#include "store/selector.h"

namespace asb::store {

class LabelIndex {
 public:
  using NsName = std::pair<std::string, std::string>;  // (namespace, name), the tables' order
  using NameSet = std::set<NsName>;

  // The object `name` of `resource` changed from `prev` to `obj` (either nullptr: created /
  // removed): its old labels leave the index and its new ones enter it.
  void Update(const std::string& resource, const NsName& name, const Json* prev, const Json* obj);

  // The smallest set of objects of `resource` that holds every object `selector` can match (from
  // its `key=value`, `key in (value)` and `key` requirements), or nullptr when it has none of
  // those (the caller scans the whole table). The caller still checks the whole selector.
  const NameSet* Candidates(const std::string& resource, const LabelSelector& selector) const;

 private:
  struct ByKey {
    NameSet any;                            // objects with the key, whatever its value
    std::map<std::string, NameSet> values;  // value -> objects with key=value
  };
  void Add(const std::string& resource, const NsName& name, const std::string& key,
           const std::string& value);
  void Remove(const std::string& resource, const NsName& name, const std::string& key,
              const std::string& value);

  std::unordered_map<std::string, std::map<std::string, ByKey>> index_;  // resource -> key -> ..
};

}  // namespace asb::store
