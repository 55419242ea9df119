// LayerPool: writable layers (ScratchDisks::CreateDetached: a fresh ext4 of ephemeral-storage on
// a loop device, mounted in no namespace) made ahead of time by one background thread, and the
// teardown of used ones done by that thread too, so neither cost lands on a sandbox's start or
// stop.
//
// Why: making a layer is ~10-25 ms of disk waits (copying the template, the loop device's switch
// to direct I/O syncing the image, the mount reading the superblock and bitmaps); dropping the
// last reference to a used one is ~15-50 ms (unmount writeback, the loop detach, freeing the image
// file, which the host file system may discard block by block). Both were on the cold start and
// the stop path. With the pool, a start takes a ready layer (a lock and a pop) and the sandbox's
// init attaches it with one move_mount; a stop hands the layer's fd back with Release, and the
// thread drops it, so the sandbox's exit is no longer the last reference.
//
// Fresh, never reused: every layer handed out was made from the empty template and never given to
// anyone before; a released layer is destroyed, not recycled. So no data of one sandbox can reach
// the next one, and the ENOSPC-at-ephemeral-storage guarantee is the same as without the pool
// (the same ext4 of the same size; nothing is faked).
//
// Bounded: `depth` ready layers for each of at most `max_sizes` sizes (the sizes most recently
// taken; a size dropped from the set has its ready layers destroyed). A ready layer costs its
// template's allocated blocks on the state dir's disk (~650 KiB at 1 GiB, ~16 MiB at 1 TiB) and a
// loop device. A Take that finds none ready makes one inline (the old cost, never an error of the
// pool's own).
//
// Nothing to recover: a layer is only fds (the image has no name: O_TMPFILE; the loop device is
// autoclear), so a crashed daemon leaves nothing behind, and the destructor (asbd stop) drops
// every ready layer and finishes every pending release before it returns.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "runtime/scratch_disk.h"

namespace asb::runtime {

struct LayerPoolOptions {
  size_t depth = 4;              // ready layers kept per size; 0 = make every layer inline
  size_t max_sizes = 4;          // distinct sizes kept ready
  std::vector<int64_t> prefill;  // sizes to make ready from the start (e.g. the default size)
  // Releases waiting for the thread beyond this are closed by the caller of Release instead
  // (the cost it had before the pool): under a churn faster than the thread, used layers, which
  // may hold up to their full size of disk, never pile up.
  size_t max_releasing = 8;
  // After a failed background make (no loop device free, disk full), wait this long before the
  // next try, doubling up to 32x, so a broken host costs a log line a while, not a busy loop.
  std::chrono::milliseconds retry_after{500};
};

class LayerPool {
 public:
  // Starts the background thread. `disks` must outlive the pool.
  LayerPool(ScratchDisks& disks, LayerPoolOptions options);
  // Stops the thread, then drops every ready layer and every pending release (so the loop
  // devices and images are gone when it returns).
  ~LayerPool();
  LayerPool(const LayerPool&) = delete;
  LayerPool& operator=(const LayerPool&) = delete;

  // A fresh layer of RoundedSize(bytes): a ready one if there is one, else made now (and the
  // size joins the set kept ready). Errors: those of ScratchDisks::CreateDetached.
  [[nodiscard]] Result<ScratchLayer> Take(int64_t bytes);

  // Hands over a layer's mount fd once its sandbox is gone; the background thread closes it,
  // which (as the last reference) unmounts it and frees its loop device and image. With
  // max_releasing already waiting, closes it here.
  void Release(UniqueFd layer);

  struct Stats {
    size_t ready = 0;              // layers made and waiting for a Take
    size_t releasing = 0;          // Released, not yet closed
    uint64_t hits = 0;             // Takes served from the pool
    uint64_t misses = 0;           // Takes that made their layer inline
    uint64_t made = 0;             // layers made by the background thread
    uint64_t failures = 0;         // failed background makes
    uint64_t released_inline = 0;  // Releases closed by their caller (queue full)
  };
  Stats GetStats();

  // Waits until nothing is left to do: every size kept has `depth` ready layers and no release
  // is pending (or the last background make failed). False on timeout. For tests and benches.
  bool WaitIdle(std::chrono::milliseconds timeout);

 private:
  struct Size {
    int64_t bytes = 0;
    uint64_t last_take = 0;  // take_clock_ value of the last Take (least recent is dropped)
    std::deque<ScratchLayer> ready;
  };

  void Loop();
  // A kept size below depth, or nullptr; mu_ held.
  Size* NextToFill();
  bool IdleLocked();

  ScratchDisks& disks_;
  const LayerPoolOptions options_;

  std::mutex mu_;
  std::condition_variable work_cv_;  // Loop waits: a release, a Take, stop
  std::condition_variable idle_cv_;  // WaitIdle waits
  std::list<Size> sizes_;            // a list: Size holds move-only layers and Loop keeps pointers
  std::deque<UniqueFd> releasing_;
  uint64_t take_clock_ = 0;
  std::chrono::steady_clock::time_point retry_at_{};
  int failures_in_row_ = 0;
  bool busy_ = false;  // Loop is making or closing a layer outside mu_
  bool stop_ = false;
  Stats stats_;
  std::thread thread_;  // last: started once everything above is initialized
};

}  // namespace asb::runtime
