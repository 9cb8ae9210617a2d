// HttpProbe: request counts and a latency histogram per listener, rendered as Prometheus text.
// Lives outside the handlers (they stay pure); record() is thread-safe and lock-free.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <string>

namespace contacts {

class HttpProbe {
 public:
  explicit HttpProbe(std::string listener) : listener_(std::move(listener)) {}

  void record(std::chrono::steady_clock::duration elapsed, unsigned status);
  // Appends this listener's series to `out`.
  void render(std::string& out) const;

 private:
  static constexpr std::array<double, 12> kBucketsSeconds = {
      0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};
  std::string listener_;
  std::array<std::atomic<uint64_t>, kBucketsSeconds.size()> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
  std::array<std::atomic<uint64_t>, 6> by_class_{};  // 1xx..5xx, index = status / 100
};

}  // namespace contacts
