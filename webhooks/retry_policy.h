// The retry policy of webhook deliveries (DESIGN.md section 7): after each attempt, whether the
// delivery succeeded, is tried again (when), or has failed. Pure: no clock, no I/O.
//
//   auto next = decide_after_attempt(delivery.attempts, outcome, schedule, now_ms);
//   if (next.kind == RetryDecision::kRetry) delivery.next_attempt_ms = next.retry_at_ms;
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "webhooks/http_sender.h"

namespace contacts {

inline constexpr const char* kDefaultRetrySchedule =
    "5,300,1800,7200,18000,36000,50400,72000,86400";

// "5,300,1800": seconds before each retry, each between 1 and 30 days; kInvalid otherwise.
Result<std::vector<int64_t>> parse_retry_schedule(std::string_view text);

// A 2xx: the receiver has the delivery.
bool is_success_status(int status);

struct RetryDecision {
  enum Kind { kSucceeded, kRetry, kFailed };
  Kind kind = kFailed;
  int64_t retry_at_ms = 0;  // unix milliseconds; kRetry only
  bool operator==(const RetryDecision&) const = default;
};

// After attempt number `attempt` (1 for the first) ended at `now_ms` with `outcome`: a 2xx
// succeeds; anything else (another status, a timeout, no connection) is retried
// `schedule_seconds[attempt - 1]` seconds after `now_ms`, or fails once the schedule is used up.
// So a delivery is attempted at most schedule_seconds.size() + 1 times.
RetryDecision decide_after_attempt(int attempt, const HttpOutcome& outcome,
                                   const std::vector<int64_t>& schedule_seconds, int64_t now_ms);

}  // namespace contacts
