#include "webhooks/retry_policy.h"

#include <charconv>
#include <string>

namespace contacts {

namespace {
constexpr int64_t kMaxRetryDelaySeconds = 30 * 86400;
}  // namespace

Result<std::vector<int64_t>> parse_retry_schedule(std::string_view text) {
  std::vector<int64_t> out;
  size_t at = 0;
  while (at <= text.size()) {
    size_t comma = text.find(',', at);
    std::string_view item =
        text.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    int64_t v = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || v < 1 ||
        v > kMaxRetryDelaySeconds)
      return Status{
          Code::kInvalid,
          "the retry schedule must be seconds between 1 and 2592000, separated by commas"};
    out.push_back(v);
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return out;
}

bool is_success_status(int status) { return status >= 200 && status < 300; }

RetryDecision decide_after_attempt(int attempt, const HttpOutcome& outcome,
                                   const std::vector<int64_t>& schedule_seconds, int64_t now_ms) {
  if (is_success_status(outcome.status)) return {RetryDecision::kSucceeded};
  // Attempt 1 is the first try; its retry waits schedule_seconds[0].
  const size_t retry = attempt < 1 ? 0 : static_cast<size_t>(attempt - 1);
  if (retry < schedule_seconds.size())
    return {RetryDecision::kRetry, now_ms + schedule_seconds[retry] * 1000};
  return {RetryDecision::kFailed};
}

}  // namespace contacts
