#include "controller/events.h"

#include "base/log.h"
#include "base/strings.h"
#include "controller/object_util.h"

namespace asb::controller {

void RecordEvent(store::Store& store, Clock& clock, const api::ResourceInfo& res, const Json& obj,
                 std::string_view type, std::string_view reason, std::string_view message) {
  std::string ts = FormatRfc3339(clock.Now());
  Json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             // The owner reference lets the store's GC delete the event with its object: the
             // embedded store has no event TTL, so this keeps events from piling up.
             {"metadata",
              {{"name", Name(obj) + "." + RandomHex(8)},
               {"namespace", Namespace(obj)},
               {"ownerReferences", Json::array({{{"apiVersion", res.ApiVersion()},
                                                 {"kind", res.kind},
                                                 {"name", Name(obj)},
                                                 {"uid", Uid(obj)}}})}}},
             {"involvedObject",
              {{"apiVersion", res.ApiVersion()},
               {"kind", res.kind},
               {"name", Name(obj)},
               {"namespace", Namespace(obj)},
               {"uid", Uid(obj)}}},
             {"reason", std::string(reason)},
             {"message", std::string(message)},
             {"type", std::string(type)},
             {"source", {{"component", "sandbox-controller"}}},
             {"reportingComponent", "sandbox-controller"},
             {"firstTimestamp", ts},
             {"lastTimestamp", ts},
             {"count", 1}};
  auto r = store.Create(api::EventResource(), std::move(ev));
  if (!r) {
    ASB_LOG(WARN, "recording event failed", "reason", reason, "object", KeyOf(obj), "error",
            r.error().message);
  }
}

}  // namespace asb::controller
