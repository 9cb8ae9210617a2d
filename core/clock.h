// Clock: the only way code outside the fold learns the time, so tests can fix it.
// The fold never uses one: every timestamp in a view comes from a command.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace contacts {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_seconds() const = 0;
  // Unix milliseconds, for schedules finer than a second (the webhook dispatcher's due times).
  // A clock that only knows seconds gives the start of the current second.
  virtual int64_t now_millis() const { return now_seconds() * 1000; }
};

class SystemClock final : public Clock {
 public:
  int64_t now_seconds() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t now_millis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A test's clock: it says what it was last set to. set() may be called while another thread
// reads it (a dispatcher's thread, say).
class FixedClock final : public Clock {
 public:
  explicit FixedClock(int64_t now) : now_(now) {}
  int64_t now_seconds() const override { return now_.load(); }
  void set(int64_t now) { now_.store(now); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace contacts
