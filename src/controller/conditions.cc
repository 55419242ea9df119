#include "controller/conditions.h"

namespace asb::controller {

Json SetCondition(const Json& conditions, const Condition& c, SystemTime now) {
  Json out = Json::array();
  std::string transition = FormatRfc3339(now);
  bool placed = false;
  Json entry = {{"type", c.type},
                {"status", c.status},
                {"reason", c.reason},
                {"message", c.message},
                {"observedGeneration", c.observed_generation}};
  if (conditions.is_array()) {
    for (const Json& old : conditions) {
      if (GetString(old, "type") != c.type) {
        out.push_back(old);
        continue;
      }
      if (placed) continue;  // drop duplicates of the same type
      std::string old_ltt = GetString(old, "lastTransitionTime");
      if (GetString(old, "status") == c.status && !old_ltt.empty()) transition = old_ltt;
      entry["lastTransitionTime"] = transition;
      out.push_back(entry);
      placed = true;
    }
  }
  if (!placed) {
    entry["lastTransitionTime"] = transition;
    out.push_back(entry);
  }
  return out;
}

Json RemoveCondition(const Json& conditions, std::string_view type) {
  Json out = Json::array();
  if (!conditions.is_array()) return out;
  for (const Json& c : conditions)
    if (GetString(c, "type") != type) out.push_back(c);
  return out;
}

}  // namespace asb::controller
