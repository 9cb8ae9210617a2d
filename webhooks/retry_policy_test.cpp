// The retry policy alone (DESIGN.md section 7): which outcomes succeed, when each retry falls
// due, and when a delivery has failed. No clock: the time of the attempt is given.
#include "webhooks/retry_policy.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace contacts {
namespace {

const std::vector<int64_t> kSchedule = {5, 300, 1800};
constexpr int64_t kNowMs = 1711586400123;

RetryDecision after(int attempt, HttpOutcome outcome, int64_t now_ms = kNowMs) {
  return decide_after_attempt(attempt, outcome, kSchedule, now_ms);
}

RetryDecision retry_at(int64_t ms) { return {RetryDecision::kRetry, ms}; }

TEST_CASE("retry policy: every 2xx succeeds, on any attempt, even past the schedule") {
  for (int status : {200, 201, 202, 204, 299}) {
    INFO("status ", status);
    for (int attempt : {1, 2, 4, 100})
      CHECK(after(attempt, {status, ""}) == RetryDecision{RetryDecision::kSucceeded});
  }
}

TEST_CASE(
    "retry policy: 1xx, 3xx, 4xx and 5xx are failures, retried after the first schedule entry") {
  for (int status : {100, 199, 300, 301, 304, 399, 400, 404, 410, 429, 499, 500, 502, 503, 599}) {
    INFO("status ", status);
    CHECK(after(1, {status, ""}) == retry_at(kNowMs + 5 * 1000));
  }
}

TEST_CASE(
    "retry policy: a timeout or a connection error (no status) is retried like a failing status") {
  CHECK(after(1, {0, "timed out"}) == retry_at(kNowMs + 5000));
  CHECK(after(2, {0, "Connection refused"}) == retry_at(kNowMs + 300000));
  CHECK(after(3, {0, "destination resolves to a private address"}) == retry_at(kNowMs + 1800000));
}

TEST_CASE("retry policy: attempt n waits the n-th schedule entry, counted from when it ended") {
  CHECK(after(1, {500, ""}) == retry_at(kNowMs + 5000));
  CHECK(after(2, {500, ""}) == retry_at(kNowMs + 300000));
  CHECK(after(3, {500, ""}) == retry_at(kNowMs + 1800000));
  CHECK(after(2, {503, ""}, 7000) == retry_at(7000 + 300000));
}

TEST_CASE(
    "retry policy: the attempt after the last schedule entry fails, and so does any later one") {
  CHECK(after(4, {500, ""}) == RetryDecision{RetryDecision::kFailed});
  CHECK(after(4, {0, "timed out"}) == RetryDecision{RetryDecision::kFailed});
  CHECK(after(5, {404, ""}) == RetryDecision{RetryDecision::kFailed});
}

TEST_CASE("retry policy: an empty schedule gives one attempt; the default schedule gives ten") {
  CHECK(decide_after_attempt(1, {500, ""}, {}, kNowMs) == RetryDecision{RetryDecision::kFailed});
  CHECK(decide_after_attempt(1, {200, ""}, {}, kNowMs) == RetryDecision{RetryDecision::kSucceeded});

  auto standard = parse_retry_schedule(kDefaultRetrySchedule);
  REQUIRE(standard.ok());
  std::vector<int64_t> waits;
  int attempt = 1;
  for (RetryDecision next = decide_after_attempt(attempt, {0, "timed out"}, *standard, 0);
       next.kind == RetryDecision::kRetry;
       next = decide_after_attempt(++attempt, {0, "timed out"}, *standard, 0)) {
    waits.push_back(next.retry_at_ms / 1000);
  }
  CHECK(attempt == 10);
  CHECK(waits == std::vector<int64_t>{5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400});
}

TEST_CASE("retry policy: is_success_status is exactly 200 to 299") {
  CHECK_FALSE(is_success_status(0));
  CHECK_FALSE(is_success_status(199));
  CHECK(is_success_status(200));
  CHECK(is_success_status(299));
  CHECK_FALSE(is_success_status(300));
}

// The retry schedule flag

TEST_CASE("parse_retry_schedule reads positive seconds separated by commas") {
  auto two = parse_retry_schedule("5,300");
  REQUIRE(two.ok());
  CHECK(*two == std::vector<int64_t>{5, 300});
  auto one = parse_retry_schedule("1");
  REQUIRE(one.ok());
  CHECK(*one == std::vector<int64_t>{1});
  auto standard = parse_retry_schedule(kDefaultRetrySchedule);
  REQUIRE(standard.ok());
  CHECK(*standard == std::vector<int64_t>{5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400});
}

TEST_CASE("parse_retry_schedule refuses empty items, zero, negatives, letters and spaces") {
  for (const char* text :
       {"", "0", "-1", "a", "5,,6", "5, 6", " 5", "5,", ",5", "5,0", "5x", "1.5", "2592001"}) {
    INFO("schedule: \"", text, "\"");
    auto schedule = parse_retry_schedule(text);
    REQUIRE_FALSE(schedule.ok());
    CHECK(schedule.status().code() == Code::kInvalid);
    CHECK(schedule.status().message().find("retry schedule") != std::string::npos);
  }
}

}  // namespace
}  // namespace contacts
