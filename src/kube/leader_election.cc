#include "kube/leader_election.h"

#include <unistd.h>

#include "api/resource.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/strings.h"

namespace asb::kube {

namespace {

std::string DefaultIdentity() {
  char host[256] = "";
  ::gethostname(host, sizeof(host) - 1);
  return std::string(host) + "_" + std::to_string(::getpid()) + "_" + RandomHex(4);
}

}  // namespace

LeaderElector::LeaderElector(store::Store& store, LeaderElectionOptions options)
    : store_(store), options_(std::move(options)) {
  if (options_.identity.empty()) options_.identity = DefaultIdentity();
}

void LeaderElector::Stop() {
  std::lock_guard l(mu_);
  stopped_ = true;
  cv_.notify_all();
}

bool LeaderElector::Sleep(std::chrono::milliseconds d) {
  std::unique_lock l(mu_);
  return !cv_.wait_for(l, d, [&] { return stopped_; });
}

Result<bool> LeaderElector::TryAcquireOrRenew() {
  const api::ResourceInfo& res = api::LeaseResource();
  const auto now = std::chrono::steady_clock::now();
  const std::string stamp = FormatRfc3339Micro(RealClock::Get().Now());
  const int64_t duration_s =
      std::chrono::duration_cast<std::chrono::seconds>(options_.lease_duration).count();
  auto got = store_.Get(res, options_.lease_namespace, options_.lease_name);
  if (!got && got.error().code != Code::kNotFound) return tl::unexpected(got.error());
  if (!got) {
    Json lease = {
        {"metadata", {{"name", options_.lease_name}, {"namespace", options_.lease_namespace}}},
        {"spec",
         {{"holderIdentity", options_.identity},
          {"leaseDurationSeconds", duration_s},
          {"acquireTime", stamp},
          {"renewTime", stamp},
          {"leaseTransitions", 0}}}};
    auto created = store_.Create(res, lease);
    if (!created) {
      if (created.error().code == Code::kAlreadyExists) return false;  // someone was first
      return tl::unexpected(created.error());
    }
    observed_record_ = DumpJson((*created)["spec"]);
    observed_at_ = now;
    return true;
  }
  Json lease = std::move(*got);
  Json spec = lease.contains("spec") && lease["spec"].is_object() ? lease["spec"] : Json::object();
  std::string record = DumpJson(spec);
  if (record != observed_record_) {
    observed_record_ = record;
    observed_at_ = now;
  }
  std::string holder = GetString(spec, "holderIdentity");
  held_by_other_ = !holder.empty() && holder != options_.identity;
  int64_t held_s = spec.value("leaseDurationSeconds", duration_s);
  if (!holder.empty() && holder != options_.identity &&
      observed_at_ + std::chrono::seconds(held_s) > now)
    return false;  // held, and renewed within its duration as far as we have seen

  Json next = spec;
  next["holderIdentity"] = options_.identity;
  next["leaseDurationSeconds"] = duration_s;
  next["renewTime"] = stamp;
  if (holder != options_.identity) {
    next["acquireTime"] = stamp;
    next["leaseTransitions"] = spec.value("leaseTransitions", 0) + (holder.empty() ? 0 : 1);
  }
  lease["spec"] = next;  // metadata.resourceVersion as read: compare-and-set
  auto updated = store_.Update(res, lease);
  if (!updated) {
    if (updated.error().code == Code::kAborted) return false;  // another replica wrote first
    return tl::unexpected(updated.error());
  }
  observed_record_ = DumpJson((*updated)["spec"]);
  observed_at_ = now;
  return true;
}

bool LeaderElector::Acquire() {
  for (;;) {
    auto r = TryAcquireOrRenew();
    if (r && *r) {
      last_renew_ = std::chrono::steady_clock::now();
      leader_ = true;
      ASB_LOG(INFO, "leader election: acquired the lease", "lease",
              options_.lease_namespace + "/" + options_.lease_name, "identity", options_.identity);
      return true;
    }
    if (!r)
      ASB_LOG(WARN, "leader election: cannot read or write the lease", "error", r.error().message);
    if (!Sleep(options_.retry_period)) return false;
  }
}

bool LeaderElector::Renew() {
  for (;;) {
    if (!Sleep(options_.retry_period)) return true;
    auto r = TryAcquireOrRenew();
    auto now = std::chrono::steady_clock::now();
    if (r && *r) {
      last_renew_ = now;
      continue;
    }
    // Another replica holds it (we were too slow), or renewing failed for the whole deadline.
    if ((r && held_by_other_) || now - last_renew_ >= options_.renew_deadline) {
      leader_ = false;
      ASB_LOG(ERROR, "leader election: lost the lease", "identity", options_.identity, "error",
              r ? std::string("held by another replica") : r.error().message);
      return false;
    }
    ASB_LOG(WARN, "leader election: renew failed, retrying", "error",
            r ? std::string("conflict") : r.error().message);
  }
}

Status LeaderElector::Release() {
  const api::ResourceInfo& res = api::LeaseResource();
  ASB_ASSIGN_OR_RETURN(Json lease, store_.Get(res, options_.lease_namespace, options_.lease_name));
  if (GetString(lease, "spec.holderIdentity") != options_.identity) return OkStatus();
  // client-go's release: no holder, a one-second duration, so the next replica takes it now.
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] = FormatRfc3339Micro(RealClock::Get().Now());
  auto updated = store_.Update(res, lease);
  if (!updated) return tl::unexpected(updated.error());
  leader_ = false;
  ASB_LOG(INFO, "leader election: released the lease", "identity", options_.identity);
  return OkStatus();
}

}  // namespace asb::kube
