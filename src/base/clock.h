// Time source. Controllers take a Clock& so tests can use FakeClock.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

namespace asb {

using SystemTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SystemTime Now() const = 0;
};

class RealClock final : public Clock {
 public:
  SystemTime Now() const override { return std::chrono::system_clock::now(); }
  static RealClock& Get() {
    static RealClock c;
    return c;
  }
};

// Monotonic time in SystemTime's type: the wall time when first used plus steady_clock's time
// since, so deadlines measured on it don't move when the wall clock is stepped (NTP at boot, an
// operator's `date -s`). For schedules (timers, back-off), not for timestamps users read.
class MonotonicClock final : public Clock {
 public:
  SystemTime Now() const override {
    return origin_ + std::chrono::duration_cast<SystemTime::duration>(
                         std::chrono::steady_clock::now() - steady_origin_);
  }
  static MonotonicClock& Get() {
    static MonotonicClock c;
    return c;
  }

 private:
  const SystemTime origin_ = std::chrono::system_clock::now();
  const std::chrono::steady_clock::time_point steady_origin_ = std::chrono::steady_clock::now();
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(SystemTime start = SystemTime{} + std::chrono::hours(24 * 365 * 56))
      : now_(start) {}
  SystemTime Now() const override {
    std::lock_guard l(mu_);
    return now_;
  }
  void Advance(std::chrono::milliseconds d) {
    std::lock_guard l(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  SystemTime now_;
};

// RFC 3339 in UTC with second precision, as Kubernetes writes metav1.Time: 2026-05-01T10:00:00Z.
std::string FormatRfc3339(SystemTime t);
// RFC 3339 with microseconds (metav1.MicroTime).
std::string FormatRfc3339Micro(SystemTime t);
// Accepts 2026-05-01T10:00:00Z, fractional seconds and +hh:mm offsets.
std::optional<SystemTime> ParseRfc3339(const std::string& s);

}  // namespace asb
