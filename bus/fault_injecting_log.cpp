#include "bus/fault_injecting_log.h"

#include <limits>

namespace contacts {

const char* log_call_name(LogCall call) {
  switch (call) {
    case LogCall::kAppend:
      return "append";
    case LogCall::kRead:
      return "read";
    case LogCall::kEndOffset:
      return "end offset";
  }
  return "call";
}

FaultInjectingLog::FaultInjectingLog(Log& log) : log_(log) {}

FaultInjectingLog::~FaultInjectingLog() {
  for (LogCall call : {LogCall::kAppend, LogCall::kRead, LogCall::kEndOffset}) release(call);
}

void FaultInjectingLog::fail_nth(LogCall call, uint64_t n) {
  if (n == 0) return;
  std::lock_guard lock(mutex_);
  script(call).failing.insert(script(call).calls + n);
}

void FaultInjectingLog::fail_all(LogCall call) {
  std::lock_guard lock(mutex_);
  script(call).down = true;
}

void FaultInjectingLog::fail_all() {
  std::lock_guard lock(mutex_);
  for (auto& s : scripts_) s.down = true;
}

void FaultInjectingLog::heal() {
  std::lock_guard lock(mutex_);
  for (auto& s : scripts_) {
    s.down = false;
    s.failing.clear();
  }
}

void FaultInjectingLog::stall(LogCall call) {
  std::lock_guard lock(mutex_);
  script(call).gate_closed = true;
}

void FaultInjectingLog::release(LogCall call) {
  {
    std::lock_guard lock(mutex_);
    script(call).gate_closed = false;
    ++script(call).releases;
  }
  changed_.notify_all();
}

bool FaultInjectingLog::wait_stalled(LogCall call, size_t count,
                                     std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return script(call).waiting >= count; });
}

uint64_t FaultInjectingLog::calls(LogCall call) const {
  std::lock_guard lock(mutex_);
  return script(call).calls;
}

uint64_t FaultInjectingLog::failures(LogCall call) const {
  std::lock_guard lock(mutex_);
  return script(call).failures;
}

size_t FaultInjectingLog::stalled(LogCall call) const {
  std::lock_guard lock(mutex_);
  return script(call).waiting;
}

std::optional<std::string> FaultInjectingLog::admit(LogCall call) {
  std::unique_lock lock(mutex_);
  Script& s = script(call);
  const uint64_t number = ++s.calls;
  if (s.gate_closed) {
    // A release that comes and goes before this thread wakes (stall, release, stall) still
    // lets it go: it waits for a release, not for an open gate.
    const uint64_t releases = s.releases;
    ++s.waiting;
    changed_.notify_all();
    changed_.wait(lock, [&] { return s.releases != releases; });
    --s.waiting;
  }
  const bool scheduled = s.failing.erase(number) > 0;
  if (!s.down && !scheduled) return std::nullopt;
  ++s.failures;
  return std::string("fault injected: ") + log_call_name(call) + " #" + std::to_string(number) +
         " failed" + (scheduled ? " (scheduled)" : " (the log is down)");
}

Result<std::vector<LogPosition>> FaultInjectingLog::append(const std::vector<LogRecord>& records) {
  if (auto failure = admit(LogCall::kAppend))
    return Status{Code::kUnavailable, *failure + ": nothing of its " +
                                          std::to_string(records.size()) + " records was appended"};
  return log_.append(records);
}

Result<std::vector<LogEntry>> FaultInjectingLog::read(Partition partition, Offset from,
                                                      size_t max_records) {
  if (auto failure = admit(LogCall::kRead))
    return Status{Code::kUnavailable, *failure + " (partition " + std::to_string(partition.value) +
                                          " from offset " + std::to_string(from.value) + ")"};
  return log_.read(partition, from, max_records);
}

Offset FaultInjectingLog::end_offset(Partition partition) {
  if (admit(LogCall::kEndOffset)) return Offset(std::numeric_limits<int64_t>::max());
  return log_.end_offset(partition);
}

std::vector<Offset> FaultInjectingLog::end_offsets() {
  if (admit(LogCall::kEndOffset))
    return std::vector<Offset>(static_cast<size_t>(log_.partitions()),
                               Offset(std::numeric_limits<int64_t>::max()));
  return log_.end_offsets();
}

}  // namespace contacts
