#include "controller/manager.h"

#include "api/resource.h"
#include "api/storage.h"
#include "base/log.h"
#include "controller/conditions.h"
#include "controller/object_util.h"

namespace asb::controller {

struct ControllerManager::WatchLoop {
  const api::ResourceInfo* res;
  EventHandler handler;
  std::mutex mu;
  std::unique_ptr<store::Watcher> watcher;  // guarded by mu (swapped on re-watch)
};

ControllerManager::ControllerManager(store::Store& store, Clock& clock, ManagerOptions options)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      sandbox_(store, clock, options_.sandbox),
      pool_(store, clock, options_.pool),
      claim_(store, clock, options_.claim,
             [this](const std::string& pool_key) {
               if (pool_q_) pool_q_->AddAfter(pool_key, options_.refill_after_claim);
             }),
      template_(store) {
  auto make = [&](const char* name, int workers, auto* reconciler) {
    QueueOptions qo;
    qo.name = name;
    qo.workers = workers;
    qo.base_backoff = options_.base_backoff;
    qo.max_backoff = options_.max_backoff;
    return std::make_unique<KeyedQueue>(
        clock_, qo, [reconciler](const std::string& key) { return reconciler->Reconcile(key); });
  };
  sandbox_q_ = make("sandbox", options_.sandbox_workers, &sandbox_);
  pool_q_ = make("warmpool", options_.pool_workers, &pool_);
  claim_q_ = make("claim", options_.claim_workers, &claim_);
  template_q_ = make("template", options_.template_workers, &template_);
}

ControllerManager::~ControllerManager() { Stop(); }

Status ControllerManager::Start() {
  {
    std::lock_guard l(mu_);
    if (started_) return MakeError(Code::kFailedPrecondition, "controller manager already started");
    started_ = true;
  }
  auto queue_key = [](KeyedQueue* q) {
    return [q](store::EventType, const store::Object& obj) { q->Add(KeyOf(obj)); };
  };
  AddWatch(api::SandboxResource(),
           [this](store::EventType t, const store::Object& o) { OnSandbox(t, o); });
  AddWatch(api::SandboxClaimResource(), queue_key(claim_q_.get()));
  AddWatch(api::SandboxWarmPoolResource(), queue_key(pool_q_.get()));
  AddWatch(api::SandboxTemplateResource(),
           [this](store::EventType, const store::Object& o) { OnTemplate(o); });
  AddWatch(api::PodResource(),
           [this](store::EventType, const store::Object& o) { EnqueueOwner(o); });
  AddWatch(api::ServiceResource(),
           [this](store::EventType, const store::Object& o) { EnqueueOwner(o); });
  // A claim getting Bound lets its Sandbox create the pod (sandbox_volumes.h).
  AddWatch(api::PersistentVolumeClaimResource(),
           [this](store::EventType, const store::Object& o) { EnqueueOwner(o); });
  // Open every watch before starting threads so Start reports a broken store synchronously.
  for (auto& w : watches_) {
    store::WatchOptions wo;
    auto watcher = store_.Watch(*w->res, "", wo);
    if (!watcher) return tl::unexpected(watcher.error().Wrap("watch " + w->res->plural));
    w->watcher = std::move(*watcher);
  }
  for (KeyedQueue* q : {sandbox_q_.get(), pool_q_.get(), claim_q_.get(), template_q_.get()})
    q->Start();
  for (auto& w : watches_) threads_.emplace_back([this, loop = w.get()] { RunWatch(loop); });
  threads_.emplace_back([this] { ResyncLoop(); });
  ASB_LOG(INFO, "controllers started", "sandbox_workers", options_.sandbox_workers, "claim_workers",
          options_.claim_workers);
  return OkStatus();
}

void ControllerManager::Stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard l(mu_);  // so a waiter can't miss the flag between its check and its wait
  }
  cv_.notify_all();
  for (auto& w : watches_) {
    std::lock_guard l(w->mu);
    if (w->watcher) w->watcher->Stop();
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
  for (KeyedQueue* q : {sandbox_q_.get(), pool_q_.get(), claim_q_.get(), template_q_.get()})
    q->Stop();
}

void ControllerManager::WakeTimers() {
  for (KeyedQueue* q : {sandbox_q_.get(), pool_q_.get(), claim_q_.get(), template_q_.get()})
    q->Wake();
}

void ControllerManager::AddWatch(const api::ResourceInfo& res, EventHandler handler) {
  auto loop = std::make_unique<WatchLoop>();
  loop->res = &res;
  loop->handler = std::move(handler);
  watches_.push_back(std::move(loop));
}

void ControllerManager::RunWatch(WatchLoop* loop) {
  while (!stopping_) {
    store::Watcher* w;
    {
      std::lock_guard l(loop->mu);
      w = loop->watcher.get();
    }
    // Shared, not copied: the handlers only read keys, owners, labels and conditions.
    Result<std::optional<store::SharedWatchEvent>> ev =
        w ? w->NextShared(std::chrono::seconds(5)) : MakeError(Code::kUnavailable, "no watcher");
    if (stopping_) return;
    if (ev) {
      if (*ev && (*ev)->type != store::EventType::kBookmark)
        loop->handler((*ev)->type, *(*ev)->object);
      continue;
    }
    // kGone (fell behind) or a broken stream: re-watch from scratch. The initial events replay
    // the current state, which re-queues everything (a re-list).
    ASB_LOG(WARN, "watch ended, re-listing", "resource", loop->res->plural, "error",
            ev.error().message);
    auto fresh = store_.Watch(*loop->res, "", store::WatchOptions{});
    std::lock_guard l(loop->mu);
    if (stopping_) return;
    if (fresh) {
      loop->watcher = std::move(*fresh);
    } else {
      loop->watcher.reset();
      std::unique_lock ml(mu_);
      cv_.wait_for(ml, std::chrono::seconds(1), [&] { return stopping_.load(); });
    }
  }
}

void ControllerManager::EnqueueOwner(const store::Object& obj) {
  auto ref = ControllerRef(obj);
  if (ref && ref->kind == "Sandbox") sandbox_q_->Add(MakeKey(Namespace(obj), ref->name));
}

void ControllerManager::OnSandbox(store::EventType type, const store::Object& obj) {
  const std::string key = KeyOf(obj);
  const std::string ns = Namespace(obj);
  sandbox_q_->Add(key);
  std::string owner;
  if (auto ref = ControllerRef(obj)) {
    if (ref->kind == "SandboxClaim" || ref->kind == "SandboxWarmPool")
      owner = ref->kind + "/" + MakeKey(ns, ref->name);
  }
  std::string previous;
  {
    std::lock_guard l(owners_mu_);
    auto it = last_owner_.find(key);
    if (it != last_owner_.end()) previous = it->second;
    if (type == store::EventType::kDeleted || owner.empty())
      last_owner_.erase(key);
    else
      last_owner_[key] = owner;
  }
  auto enqueue = [&](const std::string& o) {
    size_t slash = o.find('/');
    std::string kind = o.substr(0, slash), okey = o.substr(slash + 1);
    if (kind == "SandboxClaim") {
      claim_q_->Add(okey);
    } else if (type == store::EventType::kDeleted) {
      // A member gone, most often because a claim took it (the adoption deletes it): its
      // replacement waits refill_after_claim, as the claim's own poke does.
      pool_q_->AddAfter(okey, options_.refill_after_claim);
    } else {
      pool_q_->Add(okey);
    }
  };
  if (!owner.empty()) enqueue(owner);
  if (!previous.empty() && previous != owner) enqueue(previous);
  // A warm member became Ready: claims that found nothing last time may now adopt it.
  if (type != store::EventType::kDeleted && Label(obj, kLabelWarmPoolSandbox) &&
      ConditionTrue(obj, kCondReady)) {
    for (const std::string& c : claim_.UnboundClaims(ns)) claim_q_->Add(c);
  }
}

void ControllerManager::OnTemplate(const store::Object& obj) {
  const std::string ns = Namespace(obj);
  template_q_->Add(KeyOf(obj));
  auto pools = store_.List(api::SandboxWarmPoolResource(), ns, {});
  if (pools) {
    for (const store::Object& p : pools->items)
      if (GetString(p, "spec.sandboxTemplateRef.name") == Name(obj)) pool_q_->Add(KeyOf(p));
  }
  for (const std::string& c : claim_.UnboundClaims(ns)) claim_q_->Add(c);
}

void ControllerManager::ResyncNow() {
  struct Target {
    const api::ResourceInfo* res;
    KeyedQueue* q;
  };
  for (const Target& t : {Target{&api::SandboxResource(), sandbox_q_.get()},
                          Target{&api::SandboxClaimResource(), claim_q_.get()},
                          Target{&api::SandboxWarmPoolResource(), pool_q_.get()},
                          Target{&api::SandboxTemplateResource(), template_q_.get()}}) {
    auto listed = store_.List(*t.res, "", {});
    if (!listed) {
      ASB_LOG(WARN, "resync list failed", "resource", t.res->plural, "error",
              listed.error().message);
      continue;
    }
    for (const store::Object& o : listed->items) t.q->Add(KeyOf(o));
  }
}

void ControllerManager::ResyncLoop() {
  std::unique_lock l(mu_);
  while (!stopping_) {
    if (cv_.wait_for(l, options_.resync_period, [&] { return stopping_.load(); })) return;
    l.unlock();
    ResyncNow();
    l.lock();
  }
}

}  // namespace asb::controller
