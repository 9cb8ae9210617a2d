// HttpProbe: request counts and a latency histogram per route of one listener, added to the
// /metrics exposition. The routes are a fixed set named at construction (never paths: bounded
// cardinality). Lives outside the handlers (they stay pure); record() is thread-safe and
// lock-free, and add_to() may run beside it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.h"

namespace contacts {

// The route a request no listed route matches.
inline constexpr std::string_view kOtherRoute = "other";

class HttpProbe {
 public:
  // `routes`: every route name record() may be given; kOtherRoute is added.
  HttpProbe(std::string listener, std::vector<std::string_view> routes);

  // Counts one request of `route` (a name not listed counts as kOtherRoute).
  void record(std::string_view route, std::chrono::steady_clock::duration elapsed, unsigned status);
  // Adds the series of the routes that saw a request: contacts_http_request_duration_seconds
  // and contacts_http_responses_total, labelled listener and route.
  void add_to(Exposition& metrics) const;

 private:
  static constexpr std::array<double, 12> kBucketsSeconds = {
      0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};
  struct Series {
    std::array<std::atomic<uint64_t>, kBucketsSeconds.size()> buckets{};
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_micros{0};
    std::array<std::atomic<uint64_t>, 6> by_class{};  // 1xx..5xx, index = status / 100
  };
  std::string listener_;
  std::vector<std::string_view> routes_;  // kOtherRoute last
  std::unique_ptr<Series[]> series_;      // one per route
};

}  // namespace contacts
