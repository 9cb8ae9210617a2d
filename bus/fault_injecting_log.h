// FaultInjectingLog: a Log that passes every call to another Log and fails or stalls the calls a
// test scripts, as LevelDB's FaultInjectionTestEnv and Redpanda's failure-injectable log do.
// A failed call is a kUnavailable Status, as a real adapter returns when its broker or disk is
// gone; a failed append reaches the wrapped log not at all (nothing appended); a failed end
// offset is unknown (INT64_MAX), as KafkaLog reports it. Thread-safe; scripting calls may come
// from any thread, while other threads are inside the wrapper.
//
//   MemoryLog memory(3);
//   FaultInjectingLog log(memory);
//   log.fail_nth(LogCall::kRead, 2);  // the second read from now fails
//   log.stall(LogCall::kAppend);      // appends wait here ...
//   log.wait_stalled(LogCall::kAppend, 1, 5s);
//   log.release(LogCall::kAppend);    // ... until released
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "bus/log.h"

namespace contacts {

// The calls that can be failed or stalled. partitions(), append_count() and wait_for_append()
// always pass through: in the real adapters they touch no disk or broker.
enum class LogCall { kAppend, kRead, kEndOffset };
inline constexpr size_t kLogCallKinds = 3;

// "append", "read", "end offset".
const char* log_call_name(LogCall call);

class FaultInjectingLog final : public Log {
 public:
  // Wraps `log`, which must outlive this. Every call passes until a test says otherwise.
  explicit FaultInjectingLog(Log& log);
  // Lets stalled calls go on. (Callers must be gone before this is destroyed.)
  ~FaultInjectingLog() override;
  FaultInjectingLog(const FaultInjectingLog&) = delete;
  FaultInjectingLog& operator=(const FaultInjectingLog&) = delete;

  // The `n`th call of `call` counted from now (1: the next one) fails. Several may be scheduled.
  void fail_nth(LogCall call, uint64_t n);
  // Every call of `call` fails from now on, until heal().
  void fail_all(LogCall call);
  // Every call of every kind fails from now on, until heal(): the broker or disk is gone.
  void fail_all();
  // Every call passes again: undoes fail_all and drops the failures fail_nth scheduled.
  // (Stalls stay until released.)
  void heal();

  // Calls of `call` that arrive from now on wait (before reaching the wrapped log) until
  // release(call). Whether a stalled call fails is decided when it is released.
  void stall(LogCall call);
  // Lets every waiting call of `call` go on, and those arriving later pass the gate.
  void release(LogCall call);
  // True once at least `count` calls of `call` wait at its gate; false when `timeout` passes
  // first. (For a test to know a call is stalled, without sleeping.)
  bool wait_stalled(LogCall call, size_t count, std::chrono::milliseconds timeout);

  // Calls of `call` that arrived so far (stalled and failed ones included); of those, the ones
  // that failed; the ones waiting at the gate now.
  uint64_t calls(LogCall call) const;
  uint64_t failures(LogCall call) const;
  size_t stalled(LogCall call) const;

  Result<std::vector<LogPosition>> append(const std::vector<LogRecord>& records) override;
  Result<std::vector<LogEntry>> read(Partition partition, Offset from, size_t max_records) override;
  // A failed call: INT64_MAX (end_offsets: for every partition, and counts as one call).
  Offset end_offset(Partition partition) override;
  std::vector<Offset> end_offsets() override;
  int32_t partitions() const override { return log_.partitions(); }
  uint64_t wait_for_append(uint64_t seen_appends, std::chrono::milliseconds timeout) override {
    return log_.wait_for_append(seen_appends, timeout);
  }
  uint64_t append_count() const override { return log_.append_count(); }

 private:
  struct Script {
    uint64_t calls = 0;
    uint64_t failures = 0;
    std::set<uint64_t> failing;  // numbers of the calls (1 = the first) that fail_nth scheduled
    bool down = false;           // fail_all
    bool gate_closed = false;    // stall
    uint64_t releases = 0;       // a waiting call goes on once this moves
    size_t waiting = 0;
  };

  // Counts a call of `call`, holds it at the gate while that is closed, then decides whether
  // it fails: the failure's message, or nothing when it passes.
  std::optional<std::string> admit(LogCall call);
  Script& script(LogCall call) { return scripts_[static_cast<size_t>(call)]; }
  const Script& script(LogCall call) const { return scripts_[static_cast<size_t>(call)]; }

  Log& log_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;  // a gate opened, or a call began to wait at one
  std::array<Script, kLogCallKinds> scripts_;
};

}  // namespace contacts
