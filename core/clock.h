// Clock: the only way code outside the fold learns the time, so tests can fix it.
// The fold never uses one: every timestamp in a view comes from a command.
#pragma once

#include <chrono>
#include <cstdint>

namespace contacts {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_seconds() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_seconds() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
};

class FixedClock final : public Clock {
 public:
  explicit FixedClock(int64_t now) : now_(now) {}
  int64_t now_seconds() const override { return now_; }
  void set(int64_t now) { now_ = now; }

 private:
  int64_t now_;
};

}  // namespace contacts
